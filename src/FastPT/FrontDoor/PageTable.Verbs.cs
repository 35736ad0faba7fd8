using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT;

public sealed partial class PageTable
{
    /// <summary>
    /// Removes every leaf in [start, end): 4 KiB entries and huge leaves alike (a huge leaf the
    /// range covers in part is split first, which takes a table), and returns the 4 KiB-entry
    /// tables the range leaves empty. Markers and other non-present entries go too.
    /// </summary>
    /// <param name="start">First byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="flush">Receives the ranges a TLB may still translate (the mappings removed, tables freed).</param>
    /// <returns>What the walk did; <see cref="WalkStatus.OutOfTables"/> when a split found no table (everything before <see cref="WalkResult.WalkEnd"/> is done).</returns>
    /// <exception cref="PageTableException">A bad range; nothing changed.</exception>
    /// <example>
    /// <code>
    /// var flush = new FlushPlan();
    /// table.UnmapRange(0x4000_0000, 0x4020_0000, flush);
    /// foreach (var r in flush.Ranges) { /* invlpg / INVEPT / a shootdown for [r.Start, r.End) */ }
    /// </code>
    /// </example>
    public WalkResult UnmapRange(ulong start, ulong end, FlushPlan flush) =>
        Zap(start, end, ZapParams.Unmap, flush);

    /// <summary>
    /// Write-protects [start, end) keeping each entry's own bits: every present leaf that is
    /// writable loses R/W and gains the write-protect note (bit 10, which the CPU ignores);
    /// read-only, empty and non-present entries are left as they are, so nothing allocates but
    /// the split of a writable huge leaf the range covers in part. A write to a protected page
    /// then faults (#PF with P and W/R set) until <see cref="Unprotect"/>.
    /// </summary>
    /// <param name="start">First byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="flush">Receives the ranges of every entry that lost R/W.</param>
    /// <returns>What the walk did: <see cref="WalkResult.EntriesChanged"/> counts the 4 KiB pages protected.</returns>
    /// <exception cref="PageTableException">A bad range; nothing changed.</exception>
    /// <example>
    /// <code>
    /// var flush = new FlushPlan();
    /// table.WriteProtect(0x4000_0000, 0x8000_0000, flush);   // snapshot or dirty tracking starts
    /// // ... a write fault at va: copy or log the page, then
    /// flush.Clear();
    /// table.Unprotect(va &amp; ~0xFFFUL, (va &amp; ~0xFFFUL) + 4096, flush);
    /// </code>
    /// </example>
    public WalkResult WriteProtect(ulong start, ulong end, FlushPlan flush) => Protect(start, end, protect: true, flush);

    /// <summary>
    /// Undoes <see cref="WriteProtect"/> on [start, end): every present leaf with the
    /// write-protect note gets R/W back and loses the note; every other entry, a page mapped
    /// read-only in particular, is left as it is.
    /// </summary>
    /// <param name="start">First byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="flush">Receives the ranges of every entry that changed (Linux's rule flushes an R/W change either way).</param>
    /// <returns>What the walk did: <see cref="WalkResult.EntriesChanged"/> counts the 4 KiB pages unprotected.</returns>
    /// <exception cref="PageTableException">A bad range; nothing changed.</exception>
    public WalkResult Unprotect(ulong start, ulong end, FlushPlan flush) => Protect(start, end, protect: false, flush);

    /// <summary>
    /// Linux's change_protection over [start, end), for callers that speak Linux: an
    /// mprotect-style new protection (<see cref="PgProt"/> values restated on every entry),
    /// userfaultfd write-protect (markers into empty entries when asked, allocating tables on
    /// the way) or resolve. For raw tables, <see cref="WriteProtect"/> and
    /// <see cref="Unprotect"/> keep each entry's own bits instead.
    /// </summary>
    /// <param name="start">First byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="parameters">The new protection, cp_flags and the VMA facts the rule reads.</param>
    /// <param name="flush">Receives the ranges a TLB may still translate the old way.</param>
    /// <param name="splitHuge">Split huge leaves even where the range covers them (uffd-wp of file memory).</param>
    /// <returns>What the walk did, counted as change_protection counts.</returns>
    /// <exception cref="PageTableException">A bad range; nothing changed.</exception>
    /// <example>
    /// <code>
    /// var wp = ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true);
    /// var r = table.ChangeProtection(0x4000_0000, 0x8000_0000, wp, flush);  // -SW- markers in empty entries
    /// </code>
    /// </example>
    public WalkResult ChangeProtection(ulong start, ulong end, in ChangeProtectionParams parameters, FlushPlan flush, bool splitHuge = false)
    {
        Check(start, end, flush);
        try
        {
            return PageTableOps.ChangeProtection(_space, start, end, parameters, flush, _walk, splitHuge);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            throw Typed(e);
        }
    }

    /// <summary>
    /// Linux's zap over [start, end): entries are cleared by zap_pte_range's rule, and with
    /// <see cref="ZapParams.KeepUffdWpAsMarker"/> a write-protected entry leaves a uffd-wp
    /// marker behind (MADV_DONTNEED on registered file memory). Tables the range covers and
    /// leaves empty are returned. <see cref="UnmapRange"/> is the zap that drops everything.
    /// </summary>
    /// <param name="start">First byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="parameters">What happens to markers and write-protected entries.</param>
    /// <param name="flush">Receives the ranges of the present entries cleared and the tables freed.</param>
    /// <returns>What the walk did.</returns>
    /// <exception cref="PageTableException">A bad range; nothing changed.</exception>
    public WalkResult Zap(ulong start, ulong end, in ZapParams parameters, FlushPlan flush)
    {
        Check(start, end, flush);
        try
        {
            return PageTableOps.Zap(_space, start, end, parameters, flush, _walk, freeEmptyTables: true);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            throw Typed(e);
        }
    }

    /// <summary>
    /// Harvests and clears D (dirty logging) or A (working-set tracking) over [start, end): bit
    /// k of <paramref name="bitmap"/> is set when the page at start + k * 4096 had the bit,
    /// for 4 KiB entries and for every page of a huge leaf. A huge leaf the range covers in
    /// part reports its covered pages and keeps its bit (nothing outside the range is lost),
    /// unless <see cref="HarvestFlags.SplitPartialHuge"/> splits it; otherwise a harvest never
    /// allocates. With <see cref="PageTableOptions.SharedTables"/> a bit a running vCPU sets
    /// during the harvest is kept for the next one.
    /// </summary>
    /// <param name="start">First byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="bitmap">One bit per 4 KiB page, little-endian 64-bit words: at least (pages + 63) / 64 words. Overwritten unless <see cref="HarvestFlags.Accumulate"/>.</param>
    /// <param name="flush">Receives the ranges whose D bit was cleared (a CPU would not set it again through a cached translation).</param>
    /// <param name="which">D (default) or A.</param>
    /// <param name="flags">Accumulate into the bitmap, split partial huge leaves.</param>
    /// <returns>What the walk did: <see cref="WalkResult.EntriesChanged"/> counts the pages harvested.</returns>
    /// <exception cref="PageTableException">A bad range or a bitmap too small; nothing changed.</exception>
    /// <example>
    /// <code>
    /// var dirty = new ulong[(pages + 63) / 64];
    /// table.Harvest(start, start + pages * 4096, dirty, flush);
    /// // bit k of dirty: the page at start + k * 4096 was written since the last harvest
    /// </code>
    /// </example>
    public WalkResult Harvest(ulong start, ulong end, Span<ulong> bitmap, FlushPlan flush,
        HarvestBit which = HarvestBit.Dirty, HarvestFlags flags = HarvestFlags.None)
    {
        Check(start, end, flush);
        ulong pages = (end - start) >> 12;
        if ((ulong)bitmap.Length * 64 < pages)
            throw new PageTableException(PageTableError.BufferTooSmall,
                $"the bitmap holds {(ulong)bitmap.Length * 64} bits; [0x{start:X}, 0x{end:X}) has {pages} pages: pass at least {(pages + 63) / 64} words");
        if (which is not (HarvestBit.Dirty or HarvestBit.Accessed))
            throw new PageTableException(PageTableError.InvalidArgument, $"which is HarvestBit.Dirty or HarvestBit.Accessed, not {(int)which}");
        if ((flags & ~(HarvestFlags.Accumulate | HarvestFlags.SplitPartialHuge)) != 0)
            throw new PageTableException(PageTableError.InvalidArgument, $"unknown harvest flags 0x{(int)flags:X}");
        try
        {
            return PageTableOps.Harvest(_space, start, end, bitmap, which, flush, _walk, flags);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            throw Typed(e);
        }
    }

    /// <summary>
    /// PAGEMAP_SCAN over [start, end): each page's categories (present, written = not
    /// write-protected, huge, swapped, ...; what a VMA would add comes from
    /// <paramref name="context"/>), kept when the request's filter matches, reported as runs
    /// into <paramref name="regions"/>. When the buffer is full or
    /// <see cref="PagemapScanRequest.MaxPages"/> is reached, the scan stops and
    /// <see cref="PagemapScanResult.WalkEnd"/> says where to resume.
    /// <see cref="PagemapScanRequest.WriteProtectMatching"/> write-protects the kept written
    /// pages in the same pass by Linux's rule, which marks every kept present page, read-only
    /// ones too: a later <see cref="Unprotect"/> makes those writable. Where read-only mappings
    /// share the range, scan without it and call <see cref="WriteProtect"/>.
    /// </summary>
    /// <param name="start">First byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="request">Filter (mask, any-of, inverted), categories to report, page limit, write-protect.</param>
    /// <param name="regions">The output buffer (like the ioctl's vec); it may be empty.</param>
    /// <param name="flush">Receives the ranges write-protected by <see cref="PagemapScanRequest.WriteProtectMatching"/>.</param>
    /// <param name="context">What a VMA would add; default: nothing.</param>
    /// <returns>How many regions were written, pages found, and where the scan stopped.</returns>
    /// <exception cref="PageTableException">A bad range or request; nothing changed.</exception>
    /// <example>
    /// <code>
    /// var regions = new PageRegion[64];
    /// var r = table.Scan(start, end, new PagemapScanRequest(Mask: PageCategories.Present), regions, flush);
    /// foreach (var region in regions.AsSpan(0, r.RegionCount)) { /* [Start, End) with Categories */ }
    /// </code>
    /// </example>
    public PagemapScanResult Scan(ulong start, ulong end, in PagemapScanRequest request, Span<PageRegion> regions,
        FlushPlan flush, in ScanContext context = default)
    {
        Check(start, end, flush);
        try
        {
            return PageTableOps.Scan(_space, start, end, request, regions, flush, context, _walk.SharedTables);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            throw Typed(e);
        }
    }

    /// <summary>
    /// The hardware walk of <paramref name="va"/> for an access, as the CPU does it: rights
    /// combined over all levels (U/S, R/W, XD), CR0.WP, SMEP, SMAP and protection keys from
    /// <paramref name="cpu"/>, reserved bits checked; on success A is set in every entry used
    /// and D in the leaf on a write (atomically). On failure the result holds the #PF error
    /// code and the level that stopped the walk; nothing is set. When a link (in tables a guest
    /// wrote) names a table where the guest has no RAM, the result is neither:
    /// <see cref="TranslateResult.OutsideGuestMemory"/>, with that table's address and level.
    /// </summary>
    /// <param name="va">The virtual address, canonical for the table's levels.</param>
    /// <param name="access">Read, write or instruction fetch.</param>
    /// <param name="cpu">CPL and the control bits the walk reads; <see cref="CpuMode.UserMode"/> or <see cref="CpuMode.Supervisor"/> for the usual ones.</param>
    /// <param name="updateAccessedDirty">Set A/D as the CPU would (default), or only look.</param>
    /// <returns>The physical address and page size, or the fault.</returns>
    /// <exception cref="PageTableException"><paramref name="va"/> is not canonical (the CPU raises #GP, not #PF).</exception>
    /// <example>
    /// <code>
    /// var t = table.Translate(0x4000_1234, AccessType.Read, CpuMode.Supervisor);
    /// if (t.Success) Console.WriteLine($"0x{t.PhysicalAddress:X} in a {t.Size} page");
    /// </code>
    /// </example>
    public TranslateResult Translate(ulong va, AccessType access, in CpuMode cpu, bool updateAccessedDirty = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_space.IsCanonical(va))
            throw new PageTableException(PageTableError.InvalidRange,
                $"0x{va:X} is not canonical for {Levels}-level paging (bits {_space.VirtualBits - 1}..63 must be equal): the CPU raises #GP, not #PF");
        if (access is not (AccessType.Read or AccessType.Write or AccessType.Execute))
            throw new PageTableException(PageTableError.InvalidArgument, $"access is Read, Write or Execute, not {(int)access}");
        try
        {
            return _space.Translate(va, access, cpu, updateAccessedDirty);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            throw Typed(e);
        }
    }

    private WalkResult Protect(ulong start, ulong end, bool protect, FlushPlan flush)
    {
        Check(start, end, flush);
        try
        {
            return PageTableOps.WriteProtect(_space, start, end, protect, flush, _walk);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            throw Typed(e);
        }
    }

    /// <summary>The checks every range verb makes before it changes anything.</summary>
    private void Check(ulong start, ulong end, FlushPlan flush)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(flush);
        CheckRange(start, end);
    }

    internal void CheckRange(ulong start, ulong end)
    {
        if (start >= end)
            throw new PageTableException(PageTableError.InvalidRange,
                $"range [0x{start:X}, 0x{end:X}) is {(start == end ? "empty" : "reversed")}: end is exclusive and must be above start");
        if (((start | end) & 4095) != 0)
            throw new PageTableException(PageTableError.Misaligned,
                $"range [0x{start:X}, 0x{end:X}) must be 4 KiB-aligned at both ends (0x{((start & 4095) != 0 ? start : end):X} is not)");
        if (!_space.IsCanonical(start) || !_space.IsCanonical(end - 1) || (start < _space.UserLimit) != (end - 1 < _space.UserLimit))
            throw new PageTableException(PageTableError.InvalidRange,
                $"range [0x{start:X}, 0x{end:X}) is not canonical for {Levels}-level paging or spans the non-canonical hole above 0x{_space.UserLimit - 1:X}");
    }

    /// <summary>The engine's refusals, which <see cref="Typed"/> turns into typed errors; anything else is a bug and stays as it is.</summary>
    internal static bool IsEngineError(Exception e) =>
        e is (TableAllocationException or ArgumentException or InvalidOperationException) and not ObjectDisposedException;

    /// <summary>An engine exception as a typed error (the message is the engine's, which says what and where).</summary>
    internal static PageTableException Typed(Exception e) => e switch
    {
        TableAllocationException => new PageTableException(PageTableError.OutOfTables, e.Message, e),
        // GuestMemoryTableSource.Table: a link (written by a guest) outside the table memory.
        ArgumentOutOfRangeException { ParamName: "physical" } => new PageTableException(PageTableError.CorruptTables, e.Message, e),
        _ => new PageTableException(PageTableError.InvalidArgument, e.Message, e),
    };
}
