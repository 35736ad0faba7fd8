using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Tests.Uffd;

/// <summary>Scans for tests that only look at the regions: room for one region per page, the flush plan dropped.</summary>
internal static class ScanTestExtensions
{
    public static PageRegion[] ScanAll(this MemoryModel m, ulong start, ulong end, in PagemapScanRequest request)
    {
        var regions = new PageRegion[Math.Max(1, (int)((end - start + 4095) >> 12))];
        var r = m.Scan(start, end, request, regions, new FlushPlan());
        return regions[..r.RegionCount];
    }

    /// <summary>The categories PAGEMAP_SCAN reports for the one page at va (None if it reports none).</summary>
    public static PageCategories Categories(this MemoryModel m, ulong va) =>
        m.ScanAll(va, va + 4096, new PagemapScanRequest(Return: PageCategories.All)) is [var r] ? r.Categories : PageCategories.None;
}
