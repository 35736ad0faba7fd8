using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// Bad input to every MemoryModel verb is refused with a clear exception before anything
/// changes: the tables, the pagemap, the VMAs and the flush plan are as they were.
/// </summary>
public class MemoryModelInputTests
{
    private const ulong Base = 0x7F00_0000_0000;
    private const ulong Page = 4096;

    public static TheoryData<string, ulong, ulong> BadRanges()
    {
        var rows = new TheoryData<string, ulong, ulong>();
        foreach (var verb in new[] { "map", "unmap", "register", "unregister", "wp", "protect", "zap" })
        {
            rows.Add(verb, Base + 100, Page);          // unaligned start
            rows.Add(verb, Base, Page + 1);            // unaligned length
            rows.Add(verb, Base, 0);                   // empty
            rows.Add(verb, ulong.MaxValue - 4095, 2 * Page); // wraps around
        }
        return rows;
    }

    [Theory]
    [MemberData(nameof(BadRanges))]
    public void A_bad_range_is_refused_and_changes_nothing(string verb, ulong start, ulong length)
    {
        using var m = Populated();
        var before = State(m);
        var flush = new FlushPlan();
        var e = Assert.ThrowsAny<ArgumentException>(() => Call(m, verb, start, length, flush));
        Assert.Contains(length == 0 || (start & 4095) != 0 || (length & 4095) != 0 ? "4 KiB-aligned and non-empty" : "wraps", e.Message);
        Assert.Equal(before, State(m));
        Assert.Equal(0, flush.Count);
    }

    [Theory]
    [InlineData("unmap")]
    [InlineData("register")]
    [InlineData("unregister")]
    [InlineData("wp")]
    [InlineData("protect")]
    [InlineData("zap")]
    public void A_missing_flush_plan_is_refused_and_changes_nothing(string verb)
    {
        using var m = Populated();
        var before = State(m);
        Assert.Throws<ArgumentNullException>(() => Call(m, verb, Base, 4 * Page, null!));
        Assert.Equal(before, State(m));
    }

    [Theory]
    [InlineData("register")]
    [InlineData("wp")]
    [InlineData("protect")]
    [InlineData("zap")]
    public void A_range_over_a_hole_is_refused_and_changes_nothing(string verb)
    {
        using var m = Populated();
        var before = State(m);
        var flush = new FlushPlan();
        var e = Assert.Throws<InvalidOperationException>(() => Call(m, verb, Base + 100 * Page, 1024 * Page, flush)); // past the mapping's end
        Assert.Contains("not entirely mapped", e.Message);
        Assert.Equal(before, State(m));
        Assert.Equal(0, flush.Count);
    }

    [Fact]
    public void Write_protect_over_an_unregistered_VMA_is_refused_before_a_huge_page_is_split()
    {
        using var m = new MemoryModel(UffdFeatures.WpAsync);
        m.Map(Base, 1024 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.RegisterWriteProtect(Base, 512 * Page, new FlushPlan()); // [512, 1024) stays unregistered
        m.Access(Base, write: true, new FlushPlan());
        var before = State(m);
        Assert.Contains("level 2", before);
        var flush = new FlushPlan();
        var e = Assert.Throws<InvalidOperationException>(() => m.WriteProtect(Base + 100 * Page, 500 * Page, protect: true, flush));
        Assert.Contains("not registered", e.Message);
        Assert.Equal(before, State(m));
        Assert.Equal(0, flush.Count);
    }

    [Fact]
    public void Map_refuses_an_overlap_and_a_huge_page_hint_on_file_memory()
    {
        using var m = Populated();
        var before = State(m);
        Assert.Contains("overlaps", Assert.Throws<InvalidOperationException>(() => m.Map(Base + 511 * Page, 2 * Page, Backing.Anon, MemoryProtection.ReadWrite)).Message);
        Assert.Contains("anonymous memory only", Assert.Throws<ArgumentException>(() => m.Map(Base + 2048 * Page, 512 * Page, Backing.File, MemoryProtection.ReadWrite, hugePageHint: true)).Message);
        Assert.Equal(before, State(m));
        m.Map(Base + 512 * Page, Page, Backing.Anon, MemoryProtection.ReadWrite); // touching is not overlapping
    }

    /// <summary>A scan of an empty, reversed or unaligned range is refused before any page is looked at.</summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(8192, 4096)]
    [InlineData(100, 8192)]
    public void A_scan_of_a_bad_range_is_refused_and_protects_nothing(int from, int to)
    {
        using var m = new MemoryModel(UffdFeatures.WpAsync);
        m.Map(Base, 4 * 4096, Backing.Anon, MemoryProtection.ReadWrite);
        m.RegisterWriteProtect(Base, 4 * 4096, new FlushPlan());
        m.Access(Base, write: true, new FlushPlan());
        ulong before = m.Pagemap(Base);
        var flush = new FlushPlan();
        var e = Assert.Throws<ArgumentException>(() => m.Scan(Base + (ulong)from, Base + (ulong)to,
            new PagemapScanRequest(WriteProtectMatching: true, Return: PageCategories.All), new PageRegion[4], flush));
        Assert.Contains("page-aligned and be non-empty", e.Message);
        Assert.Equal(before, m.Pagemap(Base));
        Assert.Equal(0, flush.Count);
    }

    /// <summary>512 registered anonymous pages with a THP (async mode).</summary>
    private static MemoryModel Populated()
    {
        var m = new MemoryModel(UffdFeatures.WpAsync);
        m.Map(Base, 512 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.RegisterWriteProtect(Base, 512 * Page, new FlushPlan());
        m.Access(Base + 7 * Page, write: true, new FlushPlan());
        return m;
    }

    /// <summary>What a verb could change: the pagemap word of a few pages, tables in use, the mapping's length and level.</summary>
    private static unsafe string State(MemoryModel m)
    {
        m.Space.FindLeaf(Base, out int level);
        var words = new[] { 0, 7, 100, 399, 400, 511 }.Select(p => m.Pagemap(Base + (ulong)p * Page).ToString("X"));
        return $"{string.Join(",", words)} tables {m.TablesInUse} length {m.RegionLength(Base)} level {level}";
    }

    private static void Call(MemoryModel m, string verb, ulong start, ulong length, FlushPlan flush)
    {
        switch (verb)
        {
            case "map": m.Map(start, length, Backing.Anon, MemoryProtection.ReadWrite); break;
            case "unmap": m.Unmap(start, length, flush); break;
            case "register": m.RegisterWriteProtect(start, length, flush); break;
            case "unregister": m.Unregister(start, length, flush); break;
            case "wp": m.WriteProtect(start, length, protect: true, flush); break;
            case "protect": m.Protect(start, length, MemoryProtection.Read, flush); break;
            default: m.Zap(start, length, flush); break;
        }
    }
}
