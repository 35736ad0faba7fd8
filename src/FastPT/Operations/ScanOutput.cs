using System.Runtime.CompilerServices;
using FastPT.Kernels;

namespace FastPT.Operations;

/// <summary>
/// PAGEMAP_SCAN's output state (Linux's pagemap_scan_private and its output/push/back-out
/// rules), kept by the caller for one scan across VMAs: the caller's region buffer whose
/// last entry is the open region, the pages found against max_pages, and where the scan
/// stopped. A kept range merges into the open region when it starts at its end with equal
/// categories; otherwise it opens the next region, unless the buffer is full (the scan then
/// stops there, walk_end at its start). An empty buffer reports nothing and counts nothing.
/// </summary>
internal unsafe struct ScanOutput
{
    private readonly PageRegion* _regions;
    private readonly int _capacity;
    private readonly long _maxPages;
    private int _index;

    public ScanOutput(PageRegion* regions, int capacity, long maxPages)
    {
        _regions = regions;
        _capacity = capacity;
        _maxPages = maxPages > 0 ? maxPages : long.MaxValue;
        _index = 0;
        Found = 0;
        Stopped = false;
        WalkEnd = 0;
        if (capacity > 0)
            regions[0] = default;
    }

    public long Found { get; private set; }

    /// <summary>The buffer or the page limit ran out; <see cref="WalkEnd"/> is where.</summary>
    public bool Stopped { get; private set; }

    public ulong WalkEnd { get; private set; }

    public bool HasBuffer => _capacity > 0;

    /// <summary>Pages the limit still allows and regions the buffer can still open, so a run that cannot reach either needs no check per region.</summary>
    public bool CannotStopWithin(int pages) =>
        _capacity == 0 || _maxPages - Found >= pages && _capacity - 1 - _index >= pages;

    /// <summary>The regions written: the open one counts when it holds a page.</summary>
    public int RegionCount => _capacity == 0 ? 0 : _index + (_regions[_index].End != _regions[_index].Start ? 1 : 0);

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

    /// <summary>pagemap_scan_push_range: merge into the open region or open the next one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Push(PageCategories categories, ulong addr, ulong end)
    {
        PageRegion* cur = _regions + _index;
        if (addr == cur->End && categories == cur->Categories)
        {
            *cur = cur[0] with { End = end };
            return true;
        }
        if (cur->End != 0)
        {
            if (_index + 1 >= _capacity)
                return false;
            cur = _regions + ++_index;
        }
        *cur = new PageRegion(addr, end, categories);
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
        PageRegion* cur = _regions + _index;
        *cur = cur->Start != addr ? cur[0] with { End = addr } : default;
        Found -= (long)((end - addr) >> 12);
        Stopped = false;
    }
}
