using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// The raw-table write-protect and unprotect as a walker operation. Raw tables have no VMA to
/// restate a protection from, so each entry keeps its own bits and only R/W moves: protect
/// clears R/W on present leaves that have it and sets the write-protect bit (10, Linux's
/// uffd-wp bit, which the CPU ignores) as a note that R/W was there; unprotect sets R/W only
/// on entries with that note, and clears it. A page mapped read-only stays read-only through
/// any number of protect/unprotect pairs; empty and non-present entries are never touched,
/// so nothing allocates except the split of a huge leaf the range covers in part.
/// </summary>
internal readonly unsafe struct WriteProtectOp : ILeafOp
{
    private readonly ulong _from;
    private readonly ulong _to;
    private readonly bool _shared;

    public WriteProtectOp(bool protect, bool sharedTables)
    {
        (_from, _to) = protect ? (Pte.Writable, Pte.UffdWp) : (Pte.UffdWp, Pte.Writable);
        _shared = sharedTables;
    }

    public bool PopulateTables => false;

    public bool FreeEmptyCoveredTables => false;

    public ulong StopAt => 0;

    /// <summary>Only a leaf that changes is split: a read-only huge leaf under a protect stays whole.</summary>
    public bool SplitsHuge(ulong entry, int level, bool covered) =>
        !covered && (entry & (Pte.Present | _from)) == (Pte.Present | _from);

    public bool Hole(ulong va, ulong end) => true;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        Span<ulong> moved = stackalloc ulong[8];
        moved.Clear();
        changed += _shared
            ? HarvestKernels.Move<SharedTables>(KernelIsas.Selected, entries, count, _from, _to, moved, flush)
            : HarvestKernels.Move<ExclusiveTables>(KernelIsas.Selected, entries, count, _from, _to, moved, flush);
        return true;
    }

    /// <summary>A covered huge leaf moves whole and counts its pages (as change_protection counts a PMD).</summary>
    public HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
    {
        ulong seen = _shared ? Volatile.Read(ref *entry) : *entry;
        bool moved = _shared
            ? HarvestScalar.One<SharedTables>(entry, ref seen, _from, _to)
            : HarvestScalar.One<ExclusiveTables>(entry, ref seen, _from, _to);
        if (moved)
        {
            changed += (long)((to - from) >> 12);
            flush = FlushRules.NeedsFlush(seen, (seen & ~_from) | _to);
        }
        return HugeAction.Done;
    }
}
