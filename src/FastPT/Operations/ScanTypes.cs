using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT;

/// <summary>pm_scan_arg's inputs. MaxPages 0 means no limit.</summary>
public readonly record struct PagemapScanRequest(
    PageCategories Mask = PageCategories.None,
    PageCategories AnyOf = PageCategories.None,
    PageCategories Inverted = PageCategories.None,
    PageCategories Return = PageCategories.All,
    long MaxPages = 0,
    bool WriteProtectMatching = false)
{
    /// <summary>pagemap_scan_is_interesting_page: whether a page of these categories is kept (the scan kernels' own rule).</summary>
    public bool Matches(PageCategories categories) =>
        new ScanParams { Mask = Mask, AnyOf = AnyOf, Inverted = Inverted }.Keeps(categories);

    /// <summary>Unknown category bits or a negative page limit are bad input (the ioctl's EINVAL).</summary>
    internal void Validate()
    {
        if (((Mask | AnyOf | Inverted | Return) & ~PageCategories.All) != 0)
            throw new ArgumentException($"scan request has category bits beyond PAGE_IS_GUARD (0x{(ulong)((Mask | AnyOf | Inverted | Return) & ~PageCategories.All):X}); use PageCategories values only");
        if (MaxPages < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxPages), MaxPages, "MaxPages is 0 (no limit) or a positive page count");
    }
}

/// <summary>A page_region: [Start, End) with the reported categories.</summary>
/// <param name="Start">The first address.</param>
/// <param name="End">The address after the last page.</param>
/// <param name="Categories">The categories every page of the region has (masked by the request).</param>
public readonly record struct PageRegion(ulong Start, ulong End, PageCategories Categories);

/// <summary>
/// The ioctl's result: how many regions went into the caller's buffer, and walk_end — where
/// the scan stopped (the range's end when complete; the first page that did not fit when the
/// buffer or <see cref="PagemapScanRequest.MaxPages"/> ran out; where tables ran out).
/// </summary>
/// <param name="Status">How the scan ended.</param>
/// <param name="RegionCount">Regions written to the caller's buffer.</param>
/// <param name="PagesFound">Pages those regions cover.</param>
/// <param name="WalkEnd">Where the scan stopped (walk_end).</param>
public readonly record struct PagemapScanResult(WalkStatus Status, int RegionCount, long PagesFound, ulong WalkEnd)
{
    /// <summary>The whole range was scanned.</summary>
    public bool Complete => Status == WalkStatus.Complete;
}

/// <summary>
/// What PAGEMAP_SCAN would learn from the VMA around raw tables: categories every page has
/// (e.g. WPALLOWED), what a normal present page adds (FILE for file memory), whether empty
/// entries and table-less holes count as WRITTEN (a range registered for write-protect),
/// whether bit 11 is soft-dirty, and which frames are the zero pages (PFNZERO).
/// The default: none of these.
/// </summary>
public readonly record struct ScanContext(
    PageCategories VmaCategories = PageCategories.None,
    PageCategories NormalPageCategories = PageCategories.None,
    bool EmptyIsWritten = false,
    bool HoleIsWritten = false,
    bool TrackSoftDirty = false,
    ulong? ZeroPfn = null,
    ulong? HugeZeroPfn = null)
{
    internal ScanParams Params(in PagemapScanRequest request) => new()
    {
        VmaCategories = VmaCategories,
        NormalPageCategories = NormalPageCategories,
        EmptyIsWritten = EmptyIsWritten,
        TrackSoftDirty = TrackSoftDirty,
        ZeroPfn = ZeroPfn ?? ScanParams.NoPfn,
        Mask = request.Mask,
        AnyOf = request.AnyOf,
        Inverted = request.Inverted,
        Return = request.Return,
        WriteProtect = request.WriteProtectMatching,
    };
}
