using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>
/// PAGEMAP_SCAN's cases one at a time, each with its answer written out by hand rather than
/// taken from <see cref="ScanReference"/> (which <see cref="ScanPropertyTests"/> runs on random
/// tables): a huge leaf's categories for every kind of leaf, WP_MATCHING on huge leaves whole and
/// in part, one flush range per PTE table, markers into a written hole and the stop when they
/// cannot get a table.
/// </summary>
public sealed unsafe class ScanOpTests
{
    private const ulong Base = 0x40_0000_0000;
    private const ulong TwoMiB = 1UL << 21;
    private const ulong HugeZeroPfn = 0x40_0000;
    private const ulong WrittenLeaf = Pte.Present | Pte.Writable | Pte.User | Pte.Accessed | Pte.Dirty | Pte.PageSize;
    private const PageCategories Leaf = PageCategories.WpAllowed | PageCategories.Huge;

    private static readonly ScanContext Context = new(PageCategories.WpAllowed, PageCategories.File,
        TrackSoftDirty: true, HugeZeroPfn: HugeZeroPfn);

    /// <summary>Seven 2 MiB leaves from Base, one of each kind (pagemap_thp_category plus the VMA's categories).</summary>
    private static readonly (ulong Entry, PageCategories Categories)[] Leaves =
    [
        (0x1_0000_0000 | WrittenLeaf | Pte.SoftDirty, Leaf | PageCategories.Present | PageCategories.Written | PageCategories.SoftDirty | PageCategories.File),
        (LinuxPte.MkUffdWp(0x1_0020_0000 | WrittenLeaf), Leaf | PageCategories.Present | PageCategories.File),
        (0x1_0040_0000 | WrittenLeaf, Leaf | PageCategories.Present | PageCategories.Written | PageCategories.File),
        ((HugeZeroPfn << 12) | Pte.Present | Pte.User | Pte.Accessed | Pte.PageSize, Leaf | PageCategories.Present | PageCategories.Written | PageCategories.PfnZero),
        (0x1_0080_0000 | WrittenLeaf | Pte.Special, Leaf | PageCategories.Present | PageCategories.Written),
        (SwapEntry.Make(1, 0x1234) | SwapEntry.SoftDirty, Leaf | PageCategories.Swapped | PageCategories.Written | PageCategories.SoftDirty),
        (SwapEntry.Make(1, 0x5678) | SwapEntry.UffdWp, Leaf | PageCategories.Swapped),
    ];

    private static AddressSpace HugeLeaves(NativeTableSource tables)
    {
        var space = new AddressSpace(tables);
        for (int i = 0; i < Leaves.Length; i++)
        {
            ulong va = Base + (ulong)i * TwoMiB;
            space.Map(va, 0x1_0000_0000, PageSize.Size2M, PgProt.Shared);
            *space.TryGetEntry(va, 2) = Leaves[i].Entry;
        }
        return space;
    }

    private static FlushRange LeafRange(int leaf) => new(Base + (ulong)leaf * TwoMiB, Base + (ulong)(leaf + 1) * TwoMiB);

    private static PageRegion Region(int leaf, PageCategories categories) => new(LeafRange(leaf).Start, LeafRange(leaf).End, categories);

    private static readonly PagemapScanRequest ReportAll = new(Return: PageCategories.All);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EachKindOfHugeLeafReportsItsCategoriesAtItsLevel(bool shared)
    {
        using var tables = new NativeTableSource();
        using var space = HugeLeaves(tables);
        var regions = new PageRegion[16];
        var flush = new FlushPlan();
        ulong end = Base + (ulong)Leaves.Length * TwoMiB;
        var r = PageTableOps.Scan(space, Base, end, ReportAll, regions, flush, Context, shared);
        Assert.Equal(new PagemapScanResult(WalkStatus.Complete, Leaves.Length, Leaves.Length * 512L, end), r);
        Assert.Equal(Leaves.Select((l, i) => Region(i, l.Categories)), regions[..r.RegionCount]);
        Assert.Equal(0, flush.Count);
        for (int i = 0; i < Leaves.Length; i++)
            Assert.Equal(Leaves[i].Entry, *space.TryGetEntry(Base + (ulong)i * TwoMiB, 2));

        // Without soft-dirty tracking bit 11 means nothing.
        r = PageTableOps.Scan(space, Base, Base + TwoMiB, ReportAll, regions, flush, Context with { TrackSoftDirty = false }, shared);
        Assert.Equal(Region(0, Leaves[0].Categories & ~PageCategories.SoftDirty), regions[0]);
        r = PageTableOps.Scan(space, Base + 5 * TwoMiB, Base + 6 * TwoMiB, ReportAll, regions, flush, Context with { TrackSoftDirty = false }, shared);
        Assert.Equal(Region(5, Leaves[5].Categories & ~PageCategories.SoftDirty), regions[0]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteProtectMatchingProtectsWrittenHugeLeavesWholeAndFlushesOnlyPresentOnes(bool shared)
    {
        using var tables = new NativeTableSource();
        using var space = HugeLeaves(tables);
        var regions = new PageRegion[16];
        var flush = new FlushPlan();
        ulong end = Base + (ulong)Leaves.Length * TwoMiB;
        var request = new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true);
        var r = PageTableOps.Scan(space, Base, end, request, regions, flush, Context, shared);
        int[] written = [0, 2, 3, 4, 5];
        Assert.Equal((WalkStatus.Complete, written.Length, end), (r.Status, r.RegionCount, r.WalkEnd));
        Assert.Equal(written.Select(i => Region(i, Leaves[i].Categories)), regions[..r.RegionCount]);
        for (int i = 0; i < Leaves.Length; i++)
        {
            ulong old = Leaves[i].Entry, now = *space.TryGetEntry(Base + (ulong)i * TwoMiB, 2);
            ulong want = !written.Contains(i) ? old : LinuxPte.IsPmdPresent(old) ? LinuxPte.MkUffdWp(old) : old | SwapEntry.UffdWp;
            Assert.True(want == now, $"leaf {i}: 0x{old:X} became 0x{now:X}, want 0x{want:X}");
        }
        // Present leaves whose R/W went flush; the read-only huge zero page (only bit 10 moved) and the swap leaf owe nothing.
        Assert.Equal([LeafRange(0), LeafRange(2), LeafRange(4)], flush.Ranges.ToArray());

        flush.Clear();
        r = PageTableOps.Scan(space, Base, end, request, regions, flush, Context, shared);
        Assert.Equal((0, 0), (r.RegionCount, flush.Count));
    }

    /// <summary>
    /// A page limit that ends inside a written leaf: Linux splits the leaf, takes back its output
    /// and scans its PTEs, so only the pages reported are protected and the rest stay writable.
    /// </summary>
    [Fact]
    public void AWrittenHugeLeafKeptInPartIsSplitAndOnlyItsReportedPagesAreProtected()
    {
        using var tables = new NativeTableSource();
        using var space = HugeLeaves(tables);
        var regions = new PageRegion[16];
        var flush = new FlushPlan();
        var request = new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written, MaxPages: 512 + 100, WriteProtectMatching: true);
        var r = PageTableOps.Scan(space, Base, Base + 3 * TwoMiB, request, regions, flush, Context);
        ulong stop = Base + 2 * TwoMiB + 100 * 4096;
        Assert.Equal(new PagemapScanResult(WalkStatus.Stopped, 2, 612, stop), r);
        Assert.Equal([new PageRegion(Base, Base + TwoMiB, PageCategories.Written), new PageRegion(Base + 2 * TwoMiB, stop, PageCategories.Written)],
            regions[..2]);
        space.FindLeaf(Base + 2 * TwoMiB, out int level);
        Assert.Equal(1, level);
        for (ulong va = Base + 2 * TwoMiB; va < Base + 3 * TwoMiB; va += 4096)
        {
            ulong e = *space.FindLeaf(va, out _);
            Assert.True((e & Pte.Writable) == (va < stop ? 0 : Pte.Writable), $"0x{va:X}: 0x{e:X}");
            Assert.True((e & Pte.UffdWp) == (va < stop ? Pte.UffdWp : 0), $"0x{va:X}: 0x{e:X}");
        }
        Assert.Equal([LeafRange(0), LeafRange(2)], flush.Ranges.ToArray());
    }

    /// <summary>
    /// One flush range per PTE table, from the first page the scan protected to the last (as
    /// pagemap_scan_pmd_entry flushes), the first being the table's first entry and the three in
    /// different 64-entry words; a scan that protects nothing flushes nothing.
    /// </summary>
    [Theory]
    [InlineData(PageCategories.Written)]
    [InlineData(PageCategories.All)]
    public void WriteProtectMatchingFlushesOneRangePerTableFromTheFirstProtectedPageToTheLast(PageCategories returned)
    {
        using var tables = new NativeTableSource();
        using var space = WrittenAt(tables, 0, 70, 200, 600);
        var regions = new PageRegion[16];
        var flush = new FlushPlan();
        var request = new PagemapScanRequest(Mask: PageCategories.Written, Return: returned, WriteProtectMatching: true);
        var r = PageTableOps.Scan(space, Base, Base + 2 * TwoMiB, request, regions, flush);
        Assert.Equal(4, r.RegionCount);
        Assert.Equal([0UL, 70, 200, 600], regions[..4].Select(x => (x.Start - Base) >> 12));
        Assert.All(regions[..4], x => Assert.Equal(4096UL, x.End - x.Start));
        Assert.Equal([new FlushRange(Base, Base + 201 * 4096), new FlushRange(Base + 600 * 4096, Base + 601 * 4096)], flush.Ranges.ToArray());
        flush.Clear();
        r = PageTableOps.Scan(space, Base, Base + 2 * TwoMiB, request, regions, flush);
        Assert.Equal((0, 0), (r.RegionCount, flush.Count));
    }

    /// <summary>Two PTE tables from Base, every page present and protected except the written ones.</summary>
    private static AddressSpace WrittenAt(NativeTableSource tables, params ulong[] written)
    {
        var space = new AddressSpace(tables);
        for (ulong p = 0; p < 1024; p++)
        {
            space.Map(Base + (p << 12), 0x1_0000_0000 + (p << 12), PageSize.Size4K, PgProt.Shared);
            ulong* e = space.FindLeaf(Base + (p << 12), out _);
            if (!written.Contains(p))
                *e = LinuxPte.MkUffdWp(*e);
        }
        return space;
    }

    /// <summary>
    /// A scan that its buffer or page limit stops inside a PTE table write-protects only the
    /// pages it reported: the written pages after walk_end stay written for the next scan.
    /// </summary>
    [Theory]
    [InlineData(3, 0, 600UL, 3)]     // the buffer holds three regions: the fourth page stops the scan
    [InlineData(16, 2, 200UL, 2)]    // two pages allowed: the third written page stops the scan
    [InlineData(16, 3, 600UL, 3)]
    public void AScanStoppedInsideATableProtectsOnlyWhatItReported(int capacity, long maxPages, ulong walkEndPage, int reported)
    {
        using var tables = new NativeTableSource();
        ulong[] written = [0, 70, 200, 600];
        using var space = WrittenAt(tables, written);
        var regions = new PageRegion[capacity];
        var flush = new FlushPlan();
        var request = new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written, MaxPages: maxPages, WriteProtectMatching: true);
        var r = PageTableOps.Scan(space, Base, Base + 2 * TwoMiB, request, regions, flush);
        Assert.Equal(new PagemapScanResult(WalkStatus.Stopped, reported, reported, Base + walkEndPage * 4096), r);
        for (int i = 0; i < written.Length; i++)
        {
            ulong e = *space.FindLeaf(Base + written[i] * 4096, out _);
            Assert.True(((e & Pte.UffdWp) != 0) == i < reported, $"page {written[i]}: 0x{e:X}");
        }
        flush.Clear();
        r = PageTableOps.Scan(space, Base, Base + 2 * TwoMiB, request with { MaxPages = 0 }, new PageRegion[16], flush);
        Assert.Equal(written.Length - reported, r.RegionCount);
    }

    /// <summary>
    /// A hole without tables in a range registered for write-protect is WRITTEN; WP_MATCHING puts
    /// markers into as much of it as the page limit reports (making its tables), nothing beyond.
    /// Without HoleIsWritten the hole is neither written nor given markers.
    /// </summary>
    [Fact]
    public void WriteProtectMatchingPutsMarkersIntoTheReportedPartOfAWrittenHole()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        space.Map(Base, 0x1_0000_0000, PageSize.Size4K, PgProt.Shared);
        var regions = new PageRegion[4];
        var flush = new FlushPlan();
        var request = new PagemapScanRequest(Mask: PageCategories.Written, MaxPages: 10, WriteProtectMatching: true);
        ulong hole = Base + TwoMiB;

        var r = PageTableOps.Scan(space, hole, hole + 4 * TwoMiB, request, regions, flush, new ScanContext(PageCategories.WpAllowed));
        Assert.Equal(new PagemapScanResult(WalkStatus.Complete, 0, 0, hole + 4 * TwoMiB), r);
        Assert.Equal(0UL, *space.FindLeaf(hole, out int level));
        Assert.Equal(2, level);

        r = PageTableOps.Scan(space, hole, hole + 4 * TwoMiB, request, regions, flush, new ScanContext(PageCategories.WpAllowed, HoleIsWritten: true));
        Assert.Equal(new PagemapScanResult(WalkStatus.Stopped, 1, 10, hole + 10 * 4096), r);
        Assert.Equal(new PageRegion(hole, hole + 10 * 4096, PageCategories.WpAllowed | PageCategories.Written), regions[0]);
        for (ulong va = hole; va < hole + TwoMiB; va += 4096)
            Assert.Equal(va < hole + 10 * 4096 ? PteMarker.UffdWp : 0, *space.FindLeaf(va, out _));
        Assert.Equal(0, flush.Count);   // markers replace nothing a TLB could hold
    }

    /// <summary>A written hole whose markers cannot get a table: nothing reported, the scan ends there with OutOfTables.</summary>
    [Fact]
    public void AWrittenHoleWithoutATableForItsMarkersStopsTheScanWhereItBegins()
    {
        using var tables = new NativeTableSource(maxTables: 4);
        using var space = new AddressSpace(tables);
        space.Map(Base, 0x1_0000_0000, PageSize.Size4K, PgProt.Shared);   // root, pud, pmd and PTE tables: the limit
        var regions = new PageRegion[4];
        var flush = new FlushPlan();
        var request = new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written, WriteProtectMatching: true);
        var context = new ScanContext(HoleIsWritten: true);
        var r = PageTableOps.Scan(space, Base, Base + 2 * TwoMiB, request, regions, flush, context);
        Assert.Equal(new PagemapScanResult(WalkStatus.OutOfTables, 1, 1, Base + TwoMiB), r);
        Assert.Equal(new PageRegion(Base, Base + 4096, PageCategories.Written), regions[0]);
        Assert.Equal(0UL, *space.FindLeaf(Base + TwoMiB, out int level));
        Assert.Equal(2, level);
    }

    /// <summary>pagemap_scan_is_interesting_page: every category of the mask (after inversion), and one of any-of if it names any.</summary>
    [Theory]
    [InlineData(PageCategories.Written, PageCategories.None, PageCategories.None, PageCategories.Written | PageCategories.Present, true)]
    [InlineData(PageCategories.Written | PageCategories.Present, PageCategories.None, PageCategories.None, PageCategories.Written, false)]
    [InlineData(PageCategories.Written, PageCategories.None, PageCategories.Written, PageCategories.Present, true)]   // inverted: not written
    [InlineData(PageCategories.Written, PageCategories.None, PageCategories.Written, PageCategories.Written, false)]
    [InlineData(PageCategories.None, PageCategories.Huge | PageCategories.Swapped, PageCategories.None, PageCategories.Swapped, true)]
    [InlineData(PageCategories.None, PageCategories.Huge | PageCategories.Swapped, PageCategories.None, PageCategories.Present, false)]
    [InlineData(PageCategories.None, PageCategories.Huge, PageCategories.Huge, PageCategories.Present, true)]       // any-of after inversion
    [InlineData(PageCategories.None, PageCategories.None, PageCategories.None, PageCategories.None, true)]
    public void MatchesKeepsWhatTheScanKeeps(PageCategories mask, PageCategories anyOf, PageCategories inverted, PageCategories page, bool kept)
    {
        var request = new PagemapScanRequest(mask, anyOf, inverted);
        Assert.Equal(kept, request.Matches(page));
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        var regions = new PageRegion[1];
        // A hole has exactly its VMA's categories: the scan keeps it when Matches says so.
        var r = PageTableOps.Scan(space, Base, Base + 4096, request, regions, new FlushPlan(), new ScanContext(VmaCategories: page));
        Assert.Equal(kept, r.RegionCount == 1);
    }
}
