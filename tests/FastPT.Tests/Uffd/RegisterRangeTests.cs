using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// UFFDIO_REGISTER and UNREGISTER over part of a VMA register exactly that part: the kernel
/// splits the VMA at the range's edges (checked on Linux 6.18: registering pages 1-2 of a
/// 4-page mapping leaves three VMAs, and UFFDIO_WRITEPROTECT on page 0 fails with ENOENT),
/// splits a huge page across an edge, and leaves VMAs whose registration does not change whole.
/// Scripts register and unregister whole regions only, so the kernel oracle never sees this.
/// </summary>
public class RegisterRangeTests
{
    private const ulong Base = 0x7F00_0000_0000;
    private const ulong Page = 4096;

    private static ulong At(long page) => Base + (ulong)page * Page;

    private static bool Registered(MemoryModel m, long page) => (m.Categories(At(page)) & PageCategories.WpAllowed) != 0;

    [Fact]
    public void Registering_part_of_a_mapping_registers_that_part_only()
    {
        using var m = new MemoryModel(UffdFeatures.WpAsync);
        m.Map(Base, 4 * Page, Backing.Anon, MemoryProtection.ReadWrite);
        m.RegisterWriteProtect(At(1), 2 * Page, new FlushPlan());
        Assert.Equal([false, true, true, false], Enumerable.Range(0, 4).Select(p => Registered(m, p)));
        Assert.Throws<InvalidOperationException>(() => m.WriteProtect(At(0), Page, protect: true, new FlushPlan()));
        Assert.Throws<InvalidOperationException>(() => m.WriteProtect(At(3), Page, protect: true, new FlushPlan()));
        Assert.Equal(2, m.WriteProtect(At(1), 2 * Page, protect: true, new FlushPlan()).EntriesChanged); // two markers

        m.Unregister(At(2), 2 * Page, new FlushPlan()); // page 3 was never registered: left alone
        Assert.Equal([false, true, false, false], Enumerable.Range(0, 4).Select(p => Registered(m, p)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_edge_inside_a_huge_page_splits_it_and_owes_its_flush(bool unregister)
    {
        using var m = HugeMapping();
        if (unregister)
            m.RegisterWriteProtect(Base, 1024 * Page, new FlushPlan());
        var flush = new FlushPlan();
        ChangeRegistrationOfPages100To399(m, unregister, flush);
        Assert.Equal(1, LeafLevel(m, At(0))); // extent 0 split at the edges
        Assert.Equal(2, LeafLevel(m, At(512))); // extent 1 untouched
        Assert.True(flush.Ranges.ToArray().Any(r => r.Start <= At(0) && At(512) <= r.End), $"the split leaf is not in the plan {flush}");
        bool inside = !unregister;
        Assert.Equal([!inside, inside, inside, !inside], new long[] { 99, 100, 399, 400 }.Select(p => Registered(m, p)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_VMA_already_in_the_wanted_state_is_left_whole(bool unregister)
    {
        using var m = HugeMapping();
        if (!unregister)
            m.RegisterWriteProtect(Base, 1024 * Page, new FlushPlan());
        var flush = new FlushPlan();
        ChangeRegistrationOfPages100To399(m, unregister, flush);
        Assert.Equal(2, LeafLevel(m, At(0)));
        Assert.Equal(0, flush.Count);
    }

    private static void ChangeRegistrationOfPages100To399(MemoryModel m, bool unregister, FlushPlan flush)
    {
        if (unregister)
            m.Unregister(At(100), 300 * Page, flush);
        else
            m.RegisterWriteProtect(At(100), 300 * Page, flush);
    }

    /// <summary>1024 anonymous pages with a THP in each 2 MiB extent.</summary>
    private static MemoryModel HugeMapping()
    {
        var m = new MemoryModel(UffdFeatures.WpAsync);
        m.Map(Base, 1024 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Access(At(0), write: true, new FlushPlan());
        m.Access(At(512), write: true, new FlushPlan());
        Assert.Equal(2, LeafLevel(m, At(0)));
        return m;
    }

    private static unsafe int LeafLevel(MemoryModel m, ulong va)
    {
        m.Space.FindLeaf(va, out int level);
        return level;
    }
}
