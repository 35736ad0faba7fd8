using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;

namespace FastPT.Walk;

/// <summary>
/// Visits [start, end) level by level (pgd, p4d, pud, pmd, pte) without re-walking from
/// the root per page: empty subtrees are skipped (or populated when the operation needs
/// tables), huge leaves the range covers only in part are split, and each run of up to 512
/// PTEs goes to the operation's kernel in one call.
/// </summary>
internal static unsafe class RangeWalker
{
    /// <param name="mayAllocate">False for a parallel walk's chunk: the serial structure pass made
    /// every table, and the table source is not for concurrent use; a chunk that finds it needs
    /// one anyway (the tables changed under it: only tables that link one table at two levels
    /// can) stops there with <see cref="WalkStatus.OutOfTables"/>.</param>
    public static WalkResult Walk<TOp>(AddressSpace space, ulong start, ulong end, ref TOp op,
        FlushPlan? flush = null, long budgetPages = long.MaxValue, bool mayAllocate = true)
        where TOp : struct, ILeafOp
    {
        CheckRange(space, start, end);
        var w = new Walker<TOp>(space, flush, budgetPages, mayAllocate);
        w.WalkTable(ref op, space.RootTable, space.Levels, start, end);
        return new WalkResult(w.Status, w.Status == WalkStatus.Complete ? end : w.StoppedAt,
            w.Changed, w.Allocated, w.Freed, w.Splits);
    }

    /// <summary>Bad ranges are rejected before anything changes.</summary>
    public static void CheckRange(AddressSpace space, ulong start, ulong end)
    {
        if ((start & 4095) != 0 || (end & 4095) != 0)
            throw new ArgumentException($"range [0x{start:X}, 0x{end:X}) must be 4 KiB-aligned at both ends");
        if (start >= end)
            throw new ArgumentException($"range [0x{start:X}, 0x{end:X}) is empty or reversed; end is exclusive");
        if (!space.IsCanonical(start) || !space.IsCanonical(end - 1) || (start < space.UserLimit) != (end - 1 < space.UserLimit))
            throw new ArgumentOutOfRangeException(nameof(start), $"range [0x{start:X}, 0x{end:X}) is not canonical for {space.Levels}-level paging or spans the non-canonical hole");
    }

    private ref struct Walker<TOp> where TOp : struct, ILeafOp
    {
        private readonly AddressSpace _space;
        private readonly ITableSource _tables;
        private readonly FlushPlan? _flush;
        private long _budget;
        private readonly bool _mayAllocate;
        public WalkStatus Status;
        public ulong StoppedAt;
        public long Changed;
        public int Allocated, Freed, Splits;

        public Walker(AddressSpace space, FlushPlan? flush, long budgetPages, bool mayAllocate)
        {
            _space = space;
            _tables = space.Tables;
            _flush = flush;
            _budget = budgetPages;
            _mayAllocate = mayAllocate;
        }

        /// <summary>Walks the entries of one table at <paramref name="level"/> for [start, end). False = stopped.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool WalkTable(ref TOp op, ulong* table, int level, ulong start, ulong end)
        {
            if (level == 1)
                return LeafRun(ref op, table, start, end);
            int shift = AddressSpace.Shift(level);
            ulong size = 1UL << shift;
            ulong va = start;
            while (va < end)
            {
                ulong boundary = (va & ~(size - 1)) + size;
                ulong next = boundary < end && boundary != 0 ? boundary : end;
                ulong* slot = table + ((va >> shift) & 511);
                if (level == 2 && _budget <= 0)
                    return Stop(WalkStatus.BudgetExhausted, va);
                if (!Entry(ref op, slot, level, va, next, va == (va & ~(size - 1)) && next - va == size))
                    return false;
                va = next;
            }
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private bool Entry(ref TOp op, ulong* slot, int level, ulong va, ulong next, bool covered)
        {
            ulong e = *slot;
            if (LinuxPte.IsNone(e))
            {
                if (!op.PopulateTables)
                {
                    if (level == 2)
                        _budget -= (long)((next - va) >> 12);
                    return op.Hole(va, next) || Stop(WalkStatus.Stopped, op.StopAt);
                }
                if (!_mayAllocate || !_tables.TryAllocate(out ulong fresh))
                    return Stop(WalkStatus.OutOfTables, va);
                Allocated++;
                Volatile.Write(ref *slot, fresh | PgProt.Table); // the zeroed table is complete before it is linked
                e = *slot;
            }
            else if (level <= 3 && (e & Pte.PageSize) != 0 || (e & Pte.Present) == 0)
            {
                if (level > 3)
                    return true; // Linux's p4d/pgd "bad" entries: not ours to touch
                ulong size = 1UL << AddressSpace.Shift(level);
                ulong leafVa = va & ~(size - 1);
                var action = op.SplitsHuge(e, level, covered) ? HugeAction.Split : HugeAction.Done;
                if (action == HugeAction.Done)
                {
                    bool flush = false;
                    action = op.Huge(slot, level, leafVa, va, next, ref Changed, ref flush);
                    if (flush)
                        _flush?.Add(leafVa, leafVa + size);
                }
                switch (action)
                {
                    case HugeAction.Done:
                        if (level == 2)
                            _budget -= (long)((next - va) >> 12);
                        return true;
                    case HugeAction.Stop:
                        return Stop(WalkStatus.Stopped, op.StopAt);
                    case HugeAction.Split:
                        e = *slot;
                        if (!_mayAllocate || !_tables.TryAllocate(out ulong fresh))
                            return Stop(WalkStatus.OutOfTables, va);
                        AddressSpace.FillSplit(_tables.Table(fresh), e, level);
                        Allocated++;
                        Splits++;
                        Volatile.Write(ref *slot, fresh | PgProt.Table);
                        // The page size changes: a TLB may hold the huge translation (Linux's pmdp_invalidate).
                        if ((e & Pte.Present) != 0)
                            _flush?.Add(leafVa, leafVa + size);
                        break;
                    default:
                        Splits++; // Descend: the op split the leaf with its own rule
                        break;
                }
                e = *slot;
            }
            // A link the guest wrote may name memory that is not there: stop before touching it.
            ulong* child = _space.TryTable(e & Pte.PfnMask);
            if (child == null)
                return Stop(WalkStatus.OutsideGuestMemory, va);
            if (!WalkTable(ref op, child, level - 1, va, next))
                return false;
            if (level == 2 && covered && op.FreeEmptyCoveredTables && !new ReadOnlySpan<ulong>(child, 512).ContainsAnyExcept(0UL))
            {
                Volatile.Write(ref *slot, 0UL);
                _tables.FreeZeroed(e & Pte.PfnMask);
                Freed++;
                _flush?.Add(va, next); // a paging-structure cache may hold the old link
            }
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private bool LeafRun(ref TOp op, ulong* table, ulong start, ulong end)
        {
            int first = AddressSpace.Index(start, 1);
            int count = (int)((end - start) >> 12);
            Span<ulong> mask = stackalloc ulong[8];
            bool go = op.Run(table + first, count, start, ref Changed, mask);
            _flush?.AddMask(mask, start);
            _budget -= count;
            return go || Stop(WalkStatus.Stopped, op.StopAt);
        }

        private bool Stop(WalkStatus status, ulong va)
        {
            Status = status;
            StoppedAt = va;
            return false;
        }
    }
}
