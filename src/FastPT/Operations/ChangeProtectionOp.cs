using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// change_protection as a walker operation: runs of PTEs go to the selected kernel; huge
/// leaves get the pmd/pud rule (pmd_modify with the huge change mask, uffd bit at level).
/// </summary>
public unsafe struct ChangeProtectionOp : ILeafOp
{
    private readonly ChangeProtectionParams _p;
    private readonly bool _splitHuge;
    private readonly bool _shared;
    private ChangeProtectionMemo _memo; // the last uniform pattern, reused by the next runs of this walk

    /// <param name="splitHuge">pgtable_split_needed: uffd-wp of a file mapping splits huge leaves.</param>
    /// <param name="sharedTables">Translations run concurrently: leaf changes are compare-exchanges (see <see cref="SharedTables"/>).</param>
    public ChangeProtectionOp(in ChangeProtectionParams p, bool splitHuge, bool sharedTables = false)
    {
        _p = p;
        _splitHuge = splitHuge;
        _shared = sharedTables;
    }

    public readonly bool PopulateTables => _p.PopulateTables;

    public readonly bool FreeEmptyCoveredTables => false;

    public readonly bool SplitCoveredHuge(ulong entry, int level) => _splitHuge;

    public void Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush) =>
        changed += _shared
            ? ChangeProtectionKernels.ApplyShared(entries, count, _p, flush)
            : ChangeProtectionKernels.Apply<ExclusiveTables>(KernelIsas.Selected, entries, count, _p, flush, ref _memo);

    public readonly void Huge(ulong* entry, int level, ulong va, ref long changed, ref bool flush)
    {
        ulong old = *entry;
        if (!LinuxPte.IsPmdPresent(old))
        {
            // Huge swap-format entries (THP migration, hugetlb markers): bit 2 / the marker rule.
            ulong v = LinuxPte.IsNone(old) ? old : ChangeProtectionRule.Apply(old, _p, out _);
            if (v != old)
            {
                *entry = v;
                changed += 512L << (9 * (level - 2));
            }
            return;
        }
        ulong n = ChangeProtectionRule.ApplyHuge(old, _p, level);
        flush = FlushRules.NeedsFlush(old, n);
        *entry = n;
        changed += 512L << (9 * (level - 2));
    }
}
