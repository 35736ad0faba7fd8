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
        if (options.SharedTables)
        {
            var shared = new ChangeProtectionOp<SharedTables>(p, splitHuge);
            return Walk(space, start, end, ref shared, flush, options);
        }
        var op = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge);
        return Walk(space, start, end, ref op, flush, options);
    }

    /// <summary>
    /// The raw-table write-protect (<paramref name="protect"/>) or unprotect of [start, end):
    /// only R/W moves, to and from the write-protect bit, so each entry keeps its own bits
    /// (<see cref="WriteProtectOp"/>). Allocates only to split a huge leaf covered in part.
    /// </summary>
    public static WalkResult WriteProtect(AddressSpace space, ulong start, ulong end, bool protect,
        FlushPlan flush, in WalkOptions options = default)
    {
        var op = new WriteProtectOp(protect, options.SharedTables);
        return Walk(space, start, end, ref op, flush, options);
    }

    /// <summary>
    /// Clears [start, end) by the zap rule; optionally returns fully covered PTE tables left
    /// empty (never on an attached space: those tables are the guest's).
    /// </summary>
    public static WalkResult Zap(AddressSpace space, ulong start, ulong end, in ZapParams p,
        FlushPlan flush, in WalkOptions options = default, bool freeEmptyTables = true)
    {
        if (options.SharedTables)
        {
            var shared = new ZapOp<SharedTables>(p, freeEmptyTables && !space.IsAttached);
            return Walk(space, start, end, ref shared, flush, options);
        }
        var op = new ZapOp<ExclusiveTables>(p, freeEmptyTables && !space.IsAttached);
        return Walk(space, start, end, ref op, flush, options);
    }

    /// <summary>
    /// Harvest-and-clear of D (dirty tracking) or A (working-set tracking): bit k of
    /// <paramref name="bitmap"/> is set for the page at start + k * 4096 that had the bit, for
    /// 4 KiB PTEs and for every page of a huge leaf. A huge leaf the range covers in part
    /// reports its covered pages and keeps its bit (nothing outside the range is lost) unless
    /// <see cref="HarvestFlags.SplitPartialHuge"/> asks for 4 KiB granularity there; otherwise
    /// a harvest never allocates, so it cannot fail for lack of tables. With
    /// <see cref="WalkOptions.SharedTables"/> each clear is atomic, so a bit a running vCPU or a
    /// concurrent Translate sets between the read and the write is never lost.
    /// </summary>
    /// <param name="bitmap">At least one bit per page of the range, little-endian 64-bit words; overwritten unless <see cref="HarvestFlags.Accumulate"/>.</param>
    public static unsafe WalkResult Harvest(AddressSpace space, ulong start, ulong end, Span<ulong> bitmap,
        HarvestBit which, FlushPlan flush, in WalkOptions options = default, HarvestFlags flags = HarvestFlags.None)
    {
        RangeWalker.CheckRange(space, start, end);
        ulong pages = (end - start) >> 12;
        if ((ulong)bitmap.Length * 64 < pages)
            throw new ArgumentException($"the bitmap holds {bitmap.Length * 64} bits; [0x{start:X}, 0x{end:X}) has {pages} pages: pass at least {(pages + 63) / 64} words", nameof(bitmap));
        if ((flags & ~(HarvestFlags.Accumulate | HarvestFlags.SplitPartialHuge)) != 0)
            throw new ArgumentOutOfRangeException(nameof(flags), flags, "unknown harvest flags");
        if ((flags & HarvestFlags.Accumulate) == 0)
            bitmap[..(int)((pages + 63) / 64)].Clear();
        fixed (ulong* b = bitmap)
        {
            bool split = (flags & HarvestFlags.SplitPartialHuge) != 0;
            if (options.SharedTables)
            {
                var shared = new HarvestOp<SharedTables>(b, start, which, split, atomicBitmap: options.Threads > 1);
                return Walk(space, start, end, ref shared, flush, options);
            }
            var op = new HarvestOp<ExclusiveTables>(b, start, which, split, atomicBitmap: options.Threads > 1);
            return Walk(space, start, end, ref op, flush, options);
        }
    }

    /// <summary>
    /// PAGEMAP_SCAN over raw tables: each page's categories (<see cref="ScanRule"/>; what a
    /// VMA would add comes from <paramref name="context"/>), kept when the request's filter
    /// matches, reported as runs of equal categories into <paramref name="regions"/> (like the
    /// ioctl's vec: when it is full, or <see cref="PagemapScanRequest.MaxPages"/> is reached, the
    /// scan stops and <see cref="PagemapScanResult.WalkEnd"/> says where to resume; an empty
    /// buffer reports nothing and write-protects every matching page). With
    /// <see cref="PagemapScanRequest.WriteProtectMatching"/> the kept written pages are
    /// write-protected in the same pass (markers into empty entries and holes, a huge leaf at
    /// its level or, when kept only in part, split first), and the report shows them as they
    /// were. A warm scan allocates nothing.
    /// </summary>
    public static unsafe PagemapScanResult Scan(AddressSpace space, ulong start, ulong end, in PagemapScanRequest request,
        Span<PageRegion> regions, FlushPlan flush, in ScanContext context = default, bool sharedTables = false)
    {
        ArgumentNullException.ThrowIfNull(flush);
        request.Validate();
        RangeWalker.CheckRange(space, start, end);
        fixed (PageRegion* r = regions)
        {
            var output = new ScanOutput(r, regions.Length, request.MaxPages);
            var p = context.Params(request);
            var op = new ScanOp(space, &output, p, context.HoleIsWritten, context.HugeZeroPfn ?? ScanParams.NoPfn, flush, sharedTables);
            var w = RangeWalker.Walk(space, start, end, ref op, flush);
            return Result(w, op, output);
        }
    }

    /// <summary>A scan walk's result: out of tables (a hole's markers or a split), stopped by its output, or complete.</summary>
    internal static PagemapScanResult Result(in WalkResult w, in ScanOp op, in ScanOutput output)
    {
        var status = w.Status == WalkStatus.Stopped && op.OutOfTables ? WalkStatus.OutOfTables : w.Status;
        return new PagemapScanResult(status, output.Finish(), output.Found, w.WalkEnd);
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
