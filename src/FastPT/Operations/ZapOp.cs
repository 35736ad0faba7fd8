using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>Zap as a walker operation: PTE runs by <see cref="ZapRule"/>, covered huge leaves cleared whole.</summary>
internal unsafe struct ZapOp : ILeafOp
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

    public readonly ulong StopAt => 0;

    /// <summary>
    /// A leaf the range covers in part is split (zap_pmd_range); a covered one that must leave
    /// a marker behind is split too, so markers can stand in its PTEs (a pmd-level marker
    /// exists only for hugetlb).
    /// </summary>
    public readonly bool SplitsHuge(ulong entry, int level, bool covered) =>
        !covered || _p.KeepUffdWpAsMarker && (entry & Pte.UffdWp) != 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]

    public readonly bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        changed += _shared
            ? ZapKernels.Apply<SharedTables>(KernelIsas.Selected, entries, count, _p, flush)
            : ZapKernels.Apply<ExclusiveTables>(KernelIsas.Selected, entries, count, _p, flush);
        return true;
    }

    public readonly bool Hole(ulong va, ulong end) => true;

    public readonly HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
    {
        // Shared tables: an exchange, so the value cleared is the one a vCPU last wrote.
        ulong old = _shared ? Interlocked.Exchange(ref *entry, 0UL) : *entry;
        if (LinuxPte.IsNone(old))
            return HugeAction.Done;
        *entry = 0;
        if (LinuxPte.IsPmdPresent(old))
        {
            changed += 512L << (9 * (level - 2));
            flush = true;
        }
        return HugeAction.Done;
    }
}
