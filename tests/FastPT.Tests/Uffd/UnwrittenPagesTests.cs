using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// The model's record of pages a scan found unwritten: scans that leave those pages unread must
/// report exactly what a model without the record reports, whatever verbs and faults ran
/// between them (a verb or fault that forgot to drop a range would hide its written pages).
/// </summary>
public class UnwrittenPagesTests
{
    private const ulong Anon = 0x7E00_0000_0000 + 5 * 4096; // not 2 MiB-aligned: VMA edges fall inside tables
    private const ulong AnonLength = 6UL << 20;
    private const ulong Thp = 0x7E10_0000_0000;
    private const ulong ThpLength = 4UL << 20;
    private const ulong File = 0x7E20_0000_0000;
    private const ulong FileLength = 3UL << 20;

    private static readonly (ulong Start, ulong Length)[] Regions = [(Anon, AnonLength), (Thp, ThpLength), (File, FileLength)];

    public static TheoryData<int> Seeds => new(Enumerable.Range(1, 40));

    [Theory]
    [MemberData(nameof(Seeds))]
    public void ScansThatSkipUnwrittenPagesReportWhatFullScansReport(int seed)
    {
        var rng = new Random(seed);
        using var remembering = NewModel(remember: true);
        using var reading = NewModel(remember: false);
        if (seed % 4 == 0)
            remembering.WalkOptions = reading.WalkOptions = new WalkOptions { SharedTables = true }; // compare-exchange commits, the rule at every entry
        var models = new[] { remembering, reading };
        var flush = new FlushPlan();
        FlushPlan flushA = new(), flushB = new();
        var a = new PageRegion[4096];
        var b = new PageRegion[4096];
        long skippedPages = 0;
        for (int step = 0; step < 600; step++)
        {
            var (start, length) = Regions[rng.Next(Regions.Length)];
            long pages = (long)(length >> 12);
            ulong Page() => start + ((ulong)rng.NextInt64(pages) << 12);
            (ulong, ulong) Range()
            {
                if (rng.Next(3) == 0)
                    return (start, length); // whole tables, as dirty tracking protects and scans
                long first = rng.NextInt64(pages);
                long count = 1 + rng.NextInt64(Math.Min(pages - first, rng.Next(2) == 0 ? 16 : 1024));
                return (start + ((ulong)first << 12), (ulong)count << 12);
            }
            int kind = rng.Next(100);
            if (kind < 45)
            {
                // Write or read a few pages: async write-protect faults clear uffd-wp, reads fill tables.
                for (int i = rng.Next(1, 8); i > 0; i--)
                {
                    ulong va = Page();
                    bool write = rng.Next(4) != 0;
                    foreach (var m in models)
                        m.Access(va, write, flush);
                }
            }
            else if (kind < 53)
            {
                var (s, l) = Range();
                bool protect = rng.Next(3) != 0;
                foreach (var m in models)
                {
                    m.RegisterWriteProtect(start, length, new FlushPlan()); // an Unregister may have taken part of it away
                    m.WriteProtect(s, l, protect, flush);
                }
            }
            else if (kind < 58)
            {
                var (s, l) = Range();
                foreach (var m in models)
                    m.Zap(s, l, flush);
            }
            else if (kind < 62)
            {
                var (s, l) = Range();
                var p = rng.Next(2) == 0 ? MemoryProtection.Read : MemoryProtection.ReadWrite;
                foreach (var m in models)
                    m.Protect(s, l, p, flush);
            }
            else if (kind < 66)
            {
                // Unregistering resolves write protection: its pages read as written to a plain scan.
                var (s, l) = Range();
                bool again = rng.Next(2) == 0;
                foreach (var m in models)
                {
                    m.Unregister(s, l, flush);
                    if (again)
                        m.RegisterWriteProtect(start, length, new FlushPlan());
                }
            }
            else if (kind < 68)
            {
                foreach (var m in models)
                {
                    m.Unmap(start, length, flush);
                    Map(m, start, length);
                }
            }
            else
            {
                // Scans, often twice in a row (the second is the idle rescan the record serves).
                ulong s = rng.Next(2) == 0 ? start : Page();
                ulong e = rng.Next(2) == 0 ? start + length : Math.Min(start + length, s + ((ulong)rng.Next(1, 2048) << 12));
                var request = rng.Next(6) switch
                {
                    5 => new PagemapScanRequest(Mask: PageCategories.Written | PageCategories.Present), // empty entries are written, not present
                    0 => new PagemapScanRequest(Mask: PageCategories.Written),
                    1 => new PagemapScanRequest(Mask: PageCategories.Written | PageCategories.WpAllowed, Return: PageCategories.Written | PageCategories.Present, WriteProtectMatching: true),
                    2 => new PagemapScanRequest(Mask: PageCategories.Written, MaxPages: rng.Next(1, 300), WriteProtectMatching: true),
                    3 => new PagemapScanRequest(AnyOf: PageCategories.Written | PageCategories.Present),
                    _ => new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written, WriteProtectMatching: true),
                };
                for (int again = rng.Next(1, 4); again > 0; again--)
                {
                    long before = remembering.UnwrittenPageCount;
                    flushA.Clear();
                    flushB.Clear();
                    var ra = remembering.Scan(s, e, request, a, flushA);
                    var rb = reading.Scan(s, e, request, b, flushB);
                    Assert.Equal(rb, ra);
                    Assert.Equal(b.AsSpan(0, rb.RegionCount).ToArray(), a.AsSpan(0, ra.RegionCount).ToArray());
                    Assert.Equal(flushB.Ranges.ToArray(), flushA.Ranges.ToArray()); // the same entries protected, so the same plan
                    skippedPages += before;
                }
            }
            flush.Clear();
            // Checked after every step, so a step that changed an entry without forgetting it fails here even if no scan follows.
            Assert.Null(remembering.FirstFalselyUnwrittenPage());
        }
        foreach (var (start, length) in Regions)
            for (ulong va = start; va < start + length; va += 4096)
                Assert.Equal(reading.Pagemap(va), remembering.Pagemap(va));
        Assert.Equal(0, reading.UnwrittenPageCount);
        Assert.True(skippedPages > 0, "the record never held a page: this test would not see a skip go wrong");
    }

    [Fact]
    public void AnIdleRescanRemembersEveryPageAndAWriteForgetsOnlyItsOwn()
    {
        using var m = NewModel(remember: true);
        var flush = new FlushPlan();
        long pages = (long)(AnonLength >> 12);
        for (ulong va = Anon; va < Anon + AnonLength; va += 4096)
            m.Access(va, write: true, flush);
        var request = new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written, WriteProtectMatching: true);
        var regions = new PageRegion[64];
        var first = m.Scan(Anon, Anon + AnonLength, request, regions, flush);
        Assert.Equal(pages, first.PagesFound);
        // Every page, the edge tables' runs (the VMA starts 5 pages into a table) as much as the whole tables.
        Assert.Equal(pages, m.UnwrittenPageCount);
        Assert.Equal(0, m.Scan(Anon, Anon + AnonLength, request, regions, flush).PagesFound);
        ulong written = Anon + (3UL << 20);
        m.Access(written, write: true, flush);
        Assert.Equal(pages - 1, m.UnwrittenPageCount);
        var again = m.Scan(Anon, Anon + AnonLength, request, regions, flush);
        Assert.Equal(1, again.PagesFound);
        Assert.Equal(new PageRegion(written, written + 4096, PageCategories.Written), regions[0]);
        Assert.Equal(pages, m.UnwrittenPageCount);
    }

    /// <summary>
    /// A rescan's pages merge into the region open before their table only when they report
    /// the same: a written THP reports HUGE (at PMD level), the written page right after it, in
    /// a PTE table the record knows, does not, so they are two regions.
    /// </summary>
    [Fact]
    public void ARescansPageDoesNotMergeWithTheHugePageBeforeIt()
    {
        const ulong Start = 0x7E30_0000_0000, Length = 3UL << 20; // a THP, then 1 MiB in a PTE table
        ulong tail = Start + (2UL << 20), end = Start + Length;
        var request = new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written | PageCategories.Huge, WriteProtectMatching: true);
        var flush = new FlushPlan();
        var regions = new PageRegion[16];
        var reports = new List<PageRegion[]>();
        foreach (bool remember in new[] { true, false })
        {
            using var m = new MemoryModel(UffdFeatures.WpAsync) { RemembersUnwrittenPages = remember };
            m.Map(Start, Length, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
            m.RegisterWriteProtect(Start, Length, new FlushPlan());
            for (ulong va = Start; va < end; va += 4096)
                m.Access(va, write: true, flush);
            m.Scan(tail, end, request, regions, flush); // the PTE table only: the record learns it, the THP stays written
            m.Access(tail, write: true, flush);
            var again = m.Scan(Start, end, request, regions, flush);
            reports.Add(regions[..again.RegionCount]);
        }
        Assert.Equal(reports[1], reports[0]);
        Assert.Equal(
            [new PageRegion(Start, tail, PageCategories.Written | PageCategories.Huge), new PageRegion(tail, tail + 4096, PageCategories.Written)],
            reports[0]);
    }

    /// <summary>
    /// A rescan reads, of a table it knows, only the pages changed since: an entry made written
    /// behind the model's back (which the model's documentation forbids) beside a page a fault
    /// wrote is not seen, where a model without the record reads the whole table and sees both.
    /// </summary>
    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    public unsafe void ARescanReadsOnlyThePagesChangedSinceTheLastScan(bool remember, long expected)
    {
        using var m = NewModel(remember);
        var flush = new FlushPlan();
        for (ulong va = Anon; va < Anon + AnonLength; va += 4096)
            m.Access(va, write: true, flush);
        var request = new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written, WriteProtectMatching: true);
        var regions = new PageRegion[64];
        m.Scan(Anon, Anon + AnonLength, request, regions, flush);
        ulong faulted = Anon + (3UL << 20) + 5 * 4096, poked = faulted + 4096;
        m.Access(faulted, write: true, flush);
        ulong* pte = m.Space.TryGetEntry(poked, 1);
        *pte &= ~Pte.UffdWp;
        var r = m.Scan(Anon, Anon + AnonLength, request, regions, flush);
        Assert.Equal(expected, r.PagesFound);
        Assert.Equal(faulted, regions[0].Start);
    }

    /// <summary>
    /// <c>Find</c> first tries the slot after the last one it found (a scan's order): when
    /// slots were freed and reused out of order, that guess names another table, or a free
    /// slot, and must not be taken.
    /// </summary>
    [Fact]
    public void FindTakesTheNextSlotOnlyWhenItIsThatTables()
    {
        const ulong T = 1UL << 21;
        var record = new FastPT.Operations.UnwrittenPages();
        record.Add(0 * T, 512);                 // slot 0
        record.Add(1 * T, 512);                 // slot 1
        record.Add(2 * T, 512);                 // slot 2
        record.Forget(1 * T, 2 * T);            // slot 1 freed
        Assert.Equal(0, record.Find(0 * T));
        Assert.Equal(-1, record.Find(1 * T));   // the guess (slot 1) is free
        record.Add(7 * T + 4096, 3);            // slot 1 again, for another table
        Assert.Equal(0, record.Find(0 * T));
        Assert.Equal(2, record.Find(2 * T));    // the guess (slot 1) is table 7's
        Assert.Equal(1, record.Find(7 * T));
        Assert.Equal(0b1110UL, record.Known(record.Find(7 * T))[0]);
        Assert.Equal(ulong.MaxValue, record.Known(record.Find(2 * T))[7]);
        Assert.Equal(3 + 1024, record.Count);
    }

    private static MemoryModel NewModel(bool remember)
    {
        var m = new MemoryModel(UffdFeatures.WpAsync) { RemembersUnwrittenPages = remember };
        foreach (var (start, length) in Regions)
            Map(m, start, length);
        return m;
    }

    private static void Map(MemoryModel m, ulong start, ulong length)
    {
        m.Map(start, length, start == File ? Backing.File : Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: start == Thp);
        m.RegisterWriteProtect(start, length, new FlushPlan());
    }
}
