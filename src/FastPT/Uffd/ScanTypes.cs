namespace FastPT.Uffd;

/// <summary>PAGEMAP_SCAN page categories (include/uapi/linux/fs.h), in the ioctl's bit order.</summary>
[Flags]
public enum PageCategories : ulong
{
    None = 0,
    WpAllowed = 1 << 0,
    Written = 1 << 1,
    File = 1 << 2,
    Present = 1 << 3,
    Swapped = 1 << 4,
    PfnZero = 1 << 5,
    Huge = 1 << 6,
    SoftDirty = 1 << 7,
    Guard = 1 << 8,
    All = (1 << 9) - 1,
}

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

/// <summary>The ioctl's result: the regions and walk_end (where it stopped).</summary>
public sealed record PagemapScanResult(IReadOnlyList<PageRegion> Regions, ulong WalkEnd);
