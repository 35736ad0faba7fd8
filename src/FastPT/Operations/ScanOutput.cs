using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Kernels;

namespace FastPT.Operations;

/// <summary>
/// PAGEMAP_SCAN's output state (Linux's pagemap_scan_private and its output/push/back-out
/// rules), kept by the caller for one scan across VMAs: the closed regions in the caller's
/// buffer, the open region (the kernel's cur_buf) in fields, the pages found against
/// max_pages, and where the scan stopped. A kept range merges into the open region when it
/// starts at its end with equal categories; otherwise the open region is closed and a new
/// one opened, unless the buffer is full (the scan then stops there, walk_end at its start).
/// An empty buffer reports nothing and counts nothing. Copy it into a local for a batch of
/// outputs and back afterwards: its fields then stay in registers.
/// </summary>
internal unsafe struct ScanOutput
{
    private readonly PageRegion* _regions;
    private readonly int _capacity;
    private readonly long _maxPages;
    private int _closed;
    private ulong _curStart, _curEnd;
    private PageCategories _curCategories;

    public ScanOutput(PageRegion* regions, int capacity, long maxPages)
    {
        _regions = regions;
        _capacity = capacity;
        _maxPages = maxPages > 0 ? maxPages : long.MaxValue;
        _closed = 0;
        _curStart = _curEnd = 0;
        _curCategories = 0;
        Found = 0;
        Stopped = false;
        WalkEnd = 0;
    }

    public long Found { get; private set; }

    /// <summary>The buffer or the page limit ran out; <see cref="WalkEnd"/> is where.</summary>
    public bool Stopped { get; private set; }

    public ulong WalkEnd { get; private set; }

    public readonly bool HasBuffer => _capacity > 0;

    /// <summary>Pages the limit still allows and regions the buffer can still open, so a run that cannot reach either needs no check per region.</summary>
    public readonly bool CannotStopWithin(int pages) =>
        _capacity == 0 || _maxPages - Found >= pages && _capacity - 1 - _closed >= pages;

    /// <summary>Writes the open region into the buffer (once, at the end) and returns how many regions it holds.</summary>
    public readonly int Finish()
    {
        if (_capacity == 0)
            return 0;
        if (_curEnd == _curStart)
            return _closed;
        _regions[_closed] = new PageRegion(_curStart, _curEnd, _curCategories);
        return _closed + 1;
    }

    /// <summary>
    /// pagemap_scan_output for the kept range [addr, end) of one category: cuts
    /// <paramref name="end"/> at the page limit, or to <paramref name="addr"/> when the buffer
    /// has no room. False when the scan must stop after this range.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Output(PageCategories categories, ulong addr, ref ulong end)
    {
        if (_capacity == 0)
            return true;
        long pages = (long)((end - addr) >> 12);
        bool full = false;
        if (pages > _maxPages - Found)
        {
            long tooMany = pages - (_maxPages - Found);
            end -= (ulong)tooMany << 12;
            pages -= tooMany;
            full = true;
        }
        if (!Push(categories, addr, end))
        {
            end = addr;
            pages = 0;
            full = true;
        }
        Found += pages;
        if (full)
        {
            Stopped = true;
            WalkEnd = end;
        }
        return !full;
    }

    /// <summary>
    /// <see cref="Output"/> for each run of set bits in <paramref name="bits"/> (bit i: the
    /// page at <paramref name="va"/> + i pages), all of <paramref name="categories"/>, when
    /// <see cref="CannotStopWithin"/> held for the pages these bits cover: neither the buffer
    /// nor the page limit can run out. Only the word's first run can merge with the open region
    /// (the others start after a clear bit), so the loop over the rest closes and opens a region
    /// per run without a test; its only unpredictable branch is its exit. Runs are walked as
    /// their first and last bits (two masks cleared with blsr), so a run's work is one
    /// instruction on the loop's dependency chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OutputRuns(ulong bits, ulong va, PageCategories categories)
    {
        if (bits == 0)
            return;
        Found += BitOperations.PopCount(bits);
        ulong starts = bits & ~(bits << 1), lasts = bits & ~(bits >> 1);
        Push(categories, va + ((ulong)BitOperations.TrailingZeroCount(starts) << 12), va + ((ulong)(BitOperations.TrailingZeroCount(lasts) + 1) << 12));
        starts &= starts - 1;
        lasts &= lasts - 1;
        PageRegion* slot = _regions + _closed;
        ulong start = _curStart, end = _curEnd, endVa = va + 4096;
        while (starts != 0)
        {
            *slot++ = new PageRegion(start, end, categories);
            // ulong's count needs no sign extension: two instructions fewer per run
            start = va + (ulong.TrailingZeroCount(starts) << 12);
            end = endVa + (ulong.TrailingZeroCount(lasts) << 12);
            starts &= starts - 1;
            lasts &= lasts - 1;
        }
        _closed = (int)(slot - _regions);
        _curStart = start;
        _curEnd = end;
    }

    /// <summary>
    /// Starts outputting kept pages one at a time, all of <paramref name="categories"/>, when
    /// <see cref="CannotStopWithin"/> held for them: the open region goes into the buffer now
    /// (where <see cref="Finish"/> would put it), so each page can store its region as it comes.
    /// </summary>
    public readonly RegionAppender BeginAppend(PageCategories categories)
    {
        PageRegion* slot = _regions + _closed;
        if (_curEnd == _curStart)
            return new RegionAppender(slot - 1, 0, RegionAppender.NoOpenEnd, categories); // the first page opens the next free slot
        *slot = new PageRegion(_curStart, _curEnd, _curCategories);
        // A page of other categories cannot merge: it closes the open region.
        return new RegionAppender(slot, _curStart, _curCategories == categories ? _curEnd : RegionAppender.NoOpenEnd, categories);
    }

    /// <summary>Ends <see cref="BeginAppend"/>: the appender's last region is the open one.</summary>
    public void EndAppend(in RegionAppender appender, long pages)
    {
        if (appender.End == RegionAppender.NoOpenEnd)
            return; // nothing appended
        Found += pages;
        _closed = (int)(appender.Slot - _regions);
        _curStart = appender.Start;
        _curEnd = appender.End;
        _curCategories = appender.Categories;
    }

    /// <summary>pagemap_scan_push_range: merge into the open region or close it and open the next.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Push(PageCategories categories, ulong addr, ulong end)
    {
        if (addr == _curEnd && categories == _curCategories)
        {
            _curEnd = end;
            return true;
        }
        if (_curEnd != 0)
        {
            if (_closed + 1 >= _capacity)
                return false;
            _regions[_closed++] = new PageRegion(_curStart, _curEnd, _curCategories);
        }
        _curStart = addr;
        _curEnd = end;
        _curCategories = categories;
        return true;
    }

    /// <summary>
    /// pagemap_scan_backout_range: takes back [addr, end) just output for a huge page that is
    /// being split (the open region ends at addr, or is emptied if it began there — it stays
    /// open, so what follows cannot merge with the region before it).
    /// </summary>
    public void Backout(ulong addr, ulong end)
    {
        if (_capacity == 0)
            return;
        if (_curStart != addr)
            _curEnd = addr;
        else
            _curStart = _curEnd = 0;
        Found -= (long)((end - addr) >> 12);
        Stopped = false;
    }
}

/// <summary>
/// <see cref="ScanOutput.BeginAppend"/>'s pages, one at a time in address order: a page at the
/// open region's end extends it, any other opens the next slot; either way the open region is
/// stored at once, without a branch (the JIT keeps branches in loops, and which way this one
/// goes is as random as the written pages).
/// </summary>
internal unsafe struct RegionAppender(PageRegion* slot, ulong start, ulong end, PageCategories categories) : IKeptPages
{
    /// <summary>An end no page address equals: the next page opens a region.</summary>
    public const ulong NoOpenEnd = ulong.MaxValue;

    public PageRegion* Slot = slot;
    public ulong Start = start, End = end;
    public readonly PageCategories Categories = categories;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Kept(ulong va)
    {
        ulong merges = va == End ? 1UL : 0;
        Slot += (nint)(merges ^ 1);
        ulong keep = 0 - merges;
        Start = (Start & keep) | (va & ~keep);
        End = va + 4096;
        *Slot = new PageRegion(Start, End, Categories);
    }
}
