using FastPT.Kernels;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// The batch verbs on raw tables. Each returns what it did (entries changed, tables
/// allocated/freed, where it stopped) and adds to the caller's flush plan every range whose
/// old translations a TLB may still hold; the plan is required, so it cannot be dropped.
/// </summary>
public static class PageTableOps
{
    /// <summary>
    /// Linux's change_protection over [start, end): mprotect-style newprot, userfaultfd
    /// write-protect (markers into empty entries when <see cref="ChangeProtectionParams.UseMarkers"/>,
    /// allocating tables lazily) or resolve.
    /// </summary>
    /// <param name="splitHuge">Split huge leaves even where the range covers them (uffd-wp of file memory).</param>
    public static WalkResult ChangeProtection(AddressSpace space, ulong start, ulong end, in ChangeProtectionParams p,
        FlushPlan flush, in WalkOptions options = default, bool splitHuge = false)
    {
        var op = new ChangeProtectionOp(p, splitHuge, options.SharedTables);
        return Walk(space, start, end, ref op, flush, options);
    }

    /// <summary>
    /// Clears [start, end) by the zap rule; optionally returns fully covered PTE tables left
    /// empty (never on an attached space: those tables are the guest's).
    /// </summary>
    public static WalkResult Zap(AddressSpace space, ulong start, ulong end, in ZapParams p,
        FlushPlan flush, in WalkOptions options = default, bool freeEmptyTables = true)
    {
        var op = new ZapOp(p, freeEmptyTables && !space.IsAttached, options.SharedTables);
        return Walk(space, start, end, ref op, flush, options);
    }

    /// <summary>
    /// Harvest-and-clear of D (dirty tracking) or A (working-set tracking) over 4 KiB leaves:
    /// bit k of <paramref name="bitmap"/> is set for the page at start + k * 4096 that had the
    /// bit. With <see cref="WalkOptions.SharedTables"/> each clear is atomic, so a bit a running
    /// vCPU or a concurrent Translate sets between the read and the write is never lost.
    /// </summary>
    public static unsafe WalkResult Harvest(AddressSpace space, ulong start, ulong end, Span<ulong> bitmap,
        HarvestBit which, FlushPlan flush, in WalkOptions options = default)
    {
        RangeWalker.CheckRange(space, start, end);
        ulong pages = (end - start) >> 12;
        if ((ulong)bitmap.Length * 64 < pages)
            throw new ArgumentException($"the bitmap holds {bitmap.Length * 64} bits; [0x{start:X}, 0x{end:X}) has {pages} pages", nameof(bitmap));
        bitmap.Clear();
        fixed (ulong* b = bitmap)
        {
            var op = new HarvestOp(b, start, which, options.SharedTables);
            return Walk(space, start, end, ref op, flush, options);
        }
    }

    /// <summary>One walk with the options: on the calling thread, or cut across threads.</summary>
    internal static WalkResult Walk<TOp>(AddressSpace space, ulong start, ulong end, ref TOp op, FlushPlan flush, in WalkOptions options)
        where TOp : struct, ILeafOp
    {
        ArgumentNullException.ThrowIfNull(flush);
        options.Validate();
        if (options.Threads > 1 && options.BudgetPages == 0)
            return ParallelWalker.Walk(space, start, end, ref op, flush, options.Threads);
        return RangeWalker.Walk(space, start, end, ref op, flush, options.Budget);
    }
}
