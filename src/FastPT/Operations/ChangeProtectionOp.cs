using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// change_protection as a walker operation: runs of PTEs go to the kernel; huge leaves the
/// range covers get the pmd/pud rule (pmd_modify with the huge change mask, uffd bit at
/// level); huge leaves it covers in part are split first, as Linux's __split_huge_pmd does.
/// <typeparamref name="TMode"/> says how entries are written: <see cref="SharedTables"/> when
/// translations run concurrently (every change a compare-exchange, huge leaves included).
/// </summary>
internal unsafe struct ChangeProtectionOp<TMode> : ILeafOp
    where TMode : struct, ITableWriteMode
{
    private readonly ChangeProtectionParams _p;
    private readonly bool _splitHuge;
    private readonly KernelIsa _isa;
    private ChangeProtectionMemo _memo; // the last uniform pattern, reused by the next runs of this walk

    /// <param name="splitHuge">pgtable_split_needed: uffd-wp of a file mapping splits huge leaves.</param>
    /// <param name="isa">The kernel width (tests and benchmarks run every one; default: the process's).</param>
    public ChangeProtectionOp(in ChangeProtectionParams p, bool splitHuge, KernelIsa? isa = null)
    {
        _p = p;
        _splitHuge = splitHuge;
        _isa = isa ?? KernelIsas.Selected;
    }

    public readonly bool PopulateTables => _p.PopulateTables;

    public readonly bool FreeEmptyCoveredTables => false;

    public readonly ulong StopAt => 0;

    public readonly bool SplitsHuge(ulong entry, int level, bool covered) => !covered || _splitHuge;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        changed += ChangeProtectionKernels.Apply<TMode>(_isa, entries, count, _p, flush, ref _memo);
        return true;
    }

    public readonly bool Hole(ulong va, ulong end) => true;

    public readonly HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
    {
        ulong seen = TMode.Shared ? Volatile.Read(ref *entry) : *entry;
        while (true)
        {
            // Present: change_huge_pmd / change_huge_pud, always counted. Huge swap-format
            // entries (THP migration, hugetlb markers): the PTE rule (bit 2 / the marker rule),
            // counted when they change.
            bool present = LinuxPte.IsPmdPresent(seen);
            ulong v = present ? ChangeProtectionRule.ApplyHuge(seen, _p, level)
                : LinuxPte.IsNone(seen) ? seen : ChangeProtectionRule.Apply(seen, _p, out _);
            if (v != seen && !TableWrite.TryCommit<TMode>(entry, v, ref seen))
                continue; // a walker set A/D since the read: redo the leaf from what is there now
            if (present || v != seen)
                changed += 512L << (9 * (level - 2));
            if (present)
                flush = FlushRules.NeedsFlush(seen, v);
            return HugeAction.Done;
        }
    }
}
