using FastPT.Kernels;

namespace FastPT.Uffd;

/// <summary>pm_scan_arg's inputs. MaxPages 0 means no limit.</summary>
public readonly record struct PagemapScanRequest(
    PageCategories Mask = PageCategories.None,
    PageCategories AnyOf = PageCategories.None,
    PageCategories Inverted = PageCategories.None,
    PageCategories Return = PageCategories.All,
    long MaxPages = 0,
    bool WriteProtectMatching = false)
{
    public bool Matches(PageCategories categories)
    {
        var c = categories ^ Inverted;
        return (c & Mask) == Mask && (AnyOf == PageCategories.None || (c & AnyOf) != 0);
    }
}

/// <summary>A page_region: [Start, End) with the reported categories.</summary>
public readonly record struct PageRegion(ulong Start, ulong End, PageCategories Categories);

/// <summary>The ioctl's result: how many regions were written to the caller's buffer, and walk_end (where it stopped).</summary>
public readonly record struct PagemapScanResult(int RegionCount, ulong WalkEnd);
