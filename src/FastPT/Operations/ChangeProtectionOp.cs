using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// change_protection as a walker operation: runs of PTEs go to the kernel; huge leaves the
/// range covers get the pmd/pud rule (pmd_modify with the huge change mask, uffd bit at
/// level); huge leaves it covers in part are split first, as Linux's __split_huge_pmd does.
/// </summary>
internal unsafe struct ChangeProtectionOp : ILeafOp
{
    private readonly ChangeProtectionParams _p;
    private readonly bool _splitHuge;
    private readonly bool _shared;
    private readonly KernelIsa _isa;
    private ChangeProtectionMemo _memo; // the last uniform pattern, reused by the next runs of this walk

    /// <param name="splitHuge">pgtable_split_needed: uffd-wp of a file mapping splits huge leaves.</param>
    /// <param name="sharedTables">Translations run concurrently: leaf changes are compare-exchanges (see <see cref="SharedTables"/>).</param>
    /// <param name="isa">The kernel width (tests and benchmarks run every one; default: the process's).</param>
    public ChangeProtectionOp(in ChangeProtectionParams p, bool splitHuge, bool sharedTables = false, KernelIsa? isa = null)
    {
        _p = p;
        _splitHuge = splitHuge;
        _shared = sharedTables;
        _isa = isa ?? KernelIsas.Selected;
    }

    public readonly bool PopulateTables => _p.PopulateTables;

    public readonly bool FreeEmptyCoveredTables => false;

    public readonly ulong StopAt => 0;

    public readonly bool SplitsHuge(ulong entry, int level, bool covered) => !covered || _splitHuge;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]

    public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        changed += _shared
            ? ChangeProtectionKernels.Apply<SharedTables>(_isa, entries, count, _p, flush)
            : ChangeProtectionKernels.Apply<ExclusiveTables>(_isa, entries, count, _p, flush, ref _memo);
        return true;
    }

    public readonly bool Hole(ulong va, ulong end) => true;

    public readonly HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
    {
        ulong old = _shared ? Volatile.Read(ref *entry) : *entry;
        while (true)
        {
            ulong v;
            if (!LinuxPte.IsPmdPresent(old))
            {
                // Huge swap-format entries (THP migration, hugetlb markers): bit 2 / the marker rule.
                v = LinuxPte.IsNone(old) ? old : ChangeProtectionRule.Apply(old, _p, out _);
                if (v == old)
                    return HugeAction.Done;
            }
            else
            {
                v = ChangeProtectionRule.ApplyHuge(old, _p, level);
            }
            // Shared tables: a vCPU may set A/D on the leaf meanwhile; redo the rule on what is there then.
            if (_shared ? !TableWrite.TryCommit<SharedTables>(entry, v, ref old) : !TableWrite.TryCommit<ExclusiveTables>(entry, v, ref old))
                continue;
            flush = FlushRules.NeedsFlush(old, v);
            changed += 512L << (9 * (level - 2));
            return HugeAction.Done;
        }
    }
}
