using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// Zap as a walker operation: PTE runs by <see cref="ZapRule"/>, covered huge leaves cleared
/// whole. With <see cref="SharedTables"/> as <typeparamref name="TMode"/> each clear is a
/// compare-exchange, so a D bit set meanwhile is seen in the value that was cleared.
/// </summary>
internal unsafe struct ZapOp<TMode> : ILeafOp
    where TMode : struct, ITableWriteMode
{
    private readonly ZapParams _p;
    private readonly bool _freeTables;

    /// <param name="freeTables">Return PTE tables the zap covered entirely and left empty (Linux's page-table reclaim).</param>
    public ZapOp(in ZapParams p, bool freeTables)
    {
        _p = p;
        _freeTables = freeTables;
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
        changed += ZapKernels.Apply<TMode>(KernelIsas.Selected, entries, count, _p, flush);
        return true;
    }

    public readonly bool Hole(ulong va, ulong end) => true;

    public readonly HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
    {
        ulong seen = TMode.Shared ? Volatile.Read(ref *entry) : *entry;
        do
        {
            if (LinuxPte.IsNone(seen))
                return HugeAction.Done;
        }
        while (!TableWrite.TryCommit<TMode>(entry, 0, ref seen)); // pmdp_huge_get_and_clear
        if (LinuxPte.IsPmdPresent(seen))
        {
            changed += 512L << (9 * (level - 2));
            flush = true;
        }
        return HugeAction.Done;
    }
}
