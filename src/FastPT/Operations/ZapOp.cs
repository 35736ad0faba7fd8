using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>Zap as a walker operation: PTE runs by <see cref="ZapRule"/>, covered huge leaves cleared whole.</summary>
public unsafe struct ZapOp : ILeafOp
{
    private readonly ZapParams _p;
    private readonly bool _freeTables;
    private readonly bool _shared;

    /// <param name="freeTables">Return PTE tables the zap covered entirely and left empty (Linux's page-table reclaim).</param>
    /// <param name="sharedTables">Translations run concurrently: each clear is an atomic exchange, so a D bit set meanwhile is seen.</param>
    public ZapOp(in ZapParams p, bool freeTables, bool sharedTables = false)
    {
        _p = p;
        _freeTables = freeTables;
        _shared = sharedTables;
    }

    public readonly bool PopulateTables => false;

    public readonly bool FreeEmptyCoveredTables => _freeTables;

    /// <summary>
    /// A covered huge leaf that must leave a marker behind is split so markers can stand in its
    /// PTEs (a pmd-level marker exists only for hugetlb).
    /// </summary>
    public readonly bool SplitCoveredHuge(ulong entry, int level) => _p.KeepUffdWpAsMarker && (entry & Pte.UffdWp) != 0;

    public readonly void Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush) =>
        changed += _shared
            ? ZapKernels.Apply<SharedTables>(KernelIsas.Selected, entries, count, _p, flush)
            : ZapKernels.Apply<ExclusiveTables>(KernelIsas.Selected, entries, count, _p, flush);

    public readonly void Huge(ulong* entry, int level, ulong va, ref long changed, ref bool flush)
    {
        ulong old = *entry;
        if (LinuxPte.IsNone(old))
            return;
        bool present = LinuxPte.IsPmdPresent(old);
        *entry = 0;
        if (present)
        {
            changed += 512L << (9 * (level - 2));
            flush = true;
        }
    }
}
