using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Paging;

public unsafe class MapUnmapTests
{
    public static TheoryData<int, PageSize> LevelsAndSizes()
    {
        var d = new TheoryData<int, PageSize>();
        foreach (int levels in new[] { 4, 5 })
            foreach (PageSize size in Enum.GetValues<PageSize>())
                d.Add(levels, size);
        return d;
    }

    /// <summary>A va with a distinct, non-zero index at every level of the space.</summary>
    private static ulong VaFor(int levels, PageSize size)
    {
        ulong va = 0;
        for (int l = levels; l > size.LeafLevel(); l--)
            va |= (ulong)(l * 37 % 500 + 3) << AddressSpace.Shift(l);
        va |= (ulong)(size.LeafLevel() * 11 + 5) << AddressSpace.Shift(size.LeafLevel());
        return va; // below the sign bit: indices are < 256 at the top level
    }

    [Theory]
    [MemberData(nameof(LevelsAndSizes))]
    public void MapWritesLinksAndTheLeafAtEveryLevel(int levels, PageSize size)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src, levels);
        ulong va = VaFor(levels, size);
        ulong pa = 0x0000_00AB_C000_0000UL; // 1 GiB aligned, so aligned for every size
        space.Map(va, pa, size, PgProt.Shared | Pte.Dirty);

        ulong table = space.Root;
        for (int l = levels; l > size.LeafLevel(); l--)
        {
            ulong e = space.Table(table)[AddressSpace.Index(va, l)];
            Assert.Equal(PgProt.Table, e & ~Pte.PfnMask);                  // 0x67 | table pa
            ulong next = e & Pte.PfnMask;
            Assert.NotEqual(0UL, next);
            // Every other slot of the table is empty.
            for (int i = 0; i < 512; i++)
                if (i != AddressSpace.Index(va, l))
                    Assert.Equal(0UL, space.Table(table)[i]);
            table = next;
        }
        ulong leaf = space.Table(table)[AddressSpace.Index(va, size.LeafLevel())];
        ulong expected = pa | PgProt.Shared | Pte.Dirty | (size == PageSize.Size4K ? 0 : Pte.PageSize);
        Assert.Equal(expected, leaf);
        Assert.Equal(1 + levels - size.LeafLevel(), src.TablesInUse);
    }

    [Fact]
    public void PatGoesToBit7For4KAndBit12ForLargeLeaves()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x1000, 0x7000, PageSize.Size4K, PgProt.Shared | Pte.Pat4K);
        Assert.Equal(0x7000 | PgProt.Shared | Pte.Pat4K, space.Entry(0x1000, 1));
        space.Map(0x4000_0000, 0x20_0000, PageSize.Size2M, PgProt.Shared | Pte.PatLarge);
        Assert.Equal(0x20_0000 | PgProt.Shared | Pte.PageSize | Pte.PatLarge, space.Entry(0x4000_0000, 2));
        space.Map(0x80_0000_0000, 0xC000_0000, PageSize.Size1G, PgProt.ReadOnly | Pte.PatLarge | Pte.CacheDisable);
        Assert.Equal(0xC000_0000 | PgProt.ReadOnly | Pte.PageSize | Pte.PatLarge | Pte.CacheDisable, space.Entry(0x80_0000_0000, 3));
        // The PAT bit selects PAT entry 4+: the walk result is unaffected, the bits reach the leaf.
        Assert.Equal(0x20_0000UL + 0x1234, space.Translate(0x4000_1234, AccessType.Read, CpuMode.UserMode).PhysicalAddress);
    }

    [Fact]
    public void MapRejectsBadInputAndChangesNothing()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x20_0000, 0x20_0000, PageSize.Size2M, PgProt.Shared);
        long inUse = src.TablesInUse;
        ulong before = space.Entry(0x20_0000, 2);
        Assert.Throws<ArgumentException>(() => space.Map(0x1800, 0x1000, PageSize.Size4K, PgProt.Shared));           // va misaligned
        Assert.Throws<ArgumentException>(() => space.Map(0x40_0000, 0x1000, PageSize.Size2M, PgProt.Shared));        // pa misaligned
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Map(0x1000, 1UL << 52, PageSize.Size4K, PgProt.Shared));
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Map(0x8000_0000_0000, 0, PageSize.Size4K, PgProt.Shared)); // not canonical
        var e = Assert.Throws<ArgumentException>(() => space.Map(0x1000, 0x1000, PageSize.Size4K, PgProt.Shared | Pte.PatLarge));
        Assert.Contains("frame", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => space.Map(0x40_0000, 0x40_0000, PageSize.Size2M, PgProt.Shared | 0x2000));
        Assert.Throws<ArgumentException>(() => space.Map(0x8000_0000, 0x1000, PageSize.Size4K, PgProt.Shared, tableFlags: 0x66));       // no P
        Assert.Throws<ArgumentException>(() => space.Map(0x8000_0000, 0x1000, PageSize.Size4K, PgProt.Shared, tableFlags: 0xE7));       // PS
        Assert.Throws<InvalidOperationException>(() => space.Map(0x20_1000, 0x1000, PageSize.Size4K, PgProt.Shared)); // inside a 2M page
        Assert.Equal(inUse, src.TablesInUse);
        Assert.Equal(before, space.Entry(0x20_0000, 2));
        Assert.True(space.TryGetEntry(0x8000_0000, 2) == null, "a table was linked for a refused map");
    }

    [Fact]
    public void MapLargeOverATableIsRefused()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x20_1000, 0x1000, PageSize.Size4K, PgProt.Shared);
        ulong link = space.Entry(0x20_0000, 2);
        Assert.Throws<InvalidOperationException>(() => space.Map(0x20_0000, 0x20_0000, PageSize.Size2M, PgProt.Shared));
        Assert.Equal(link, space.Entry(0x20_0000, 2));
    }

    [Fact]
    public void MapOverAMarkerInAnUpperSlotIsRefused()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x20_0000, 0x20_0000, PageSize.Size2M, PgProt.Shared);
        space.Entry(0x20_0000, 2) = PteMarker.UffdWp;                   // a hugetlb-style marker in the PMD
        Assert.Throws<InvalidOperationException>(() => space.Map(0x20_1000, 0x1000, PageSize.Size4K, PgProt.Shared));
        Assert.Equal(PteMarker.UffdWp, space.Entry(0x20_0000, 2));
        // A 2M map replaces the marker in place.
        space.Map(0x20_0000, 0x40_0000, PageSize.Size2M, PgProt.ReadOnly);
        Assert.Equal(0x40_0000 | PgProt.ReadOnly | Pte.PageSize, space.Entry(0x20_0000, 2));
    }

    [Theory]
    [MemberData(nameof(LevelsAndSizes))]
    public void UnmapFreesTablesThatBecomeEmpty(int levels, PageSize size)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src, levels);
        ulong va = VaFor(levels, size);
        ulong bytes = size.Bytes();
        space.Map(va, 0x4000_0000, size, PgProt.Shared);
        space.Map(va + bytes, 0x8000_0000, size, PgProt.Shared);   // a neighbour in the same table
        long both = src.TablesInUse;
        space.Unmap(va, size);
        Assert.Equal(both, src.TablesInUse);                         // the table still holds the neighbour
        Assert.Equal(0UL, space.Entry(va, size.LeafLevel()));
        Assert.False(space.Translate(va, AccessType.Read, CpuMode.UserMode).Success);
        Assert.True(space.Translate(va + bytes, AccessType.Read, CpuMode.UserMode).Success);
        space.Unmap(va + bytes, size);
        Assert.Equal(1, src.TablesInUse);                            // only the root is left
        Assert.False(new ReadOnlySpan<ulong>(space.RootTable, 512).ContainsAnyExcept(0UL));
    }

    [Fact]
    public void UnmapKeepsTablesWithOtherEntriesAtEveryLevel()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x1000, 0x1000, PageSize.Size4K, PgProt.Shared);
        space.Map(0x20_0000, 0x20_0000, PageSize.Size2M, PgProt.Shared); // shares PML4, PDPT, PD
        Assert.Equal(4, src.TablesInUse);
        space.Unmap(0x1000, PageSize.Size4K);
        Assert.Equal(3, src.TablesInUse);                                 // only the PT went
        Assert.Equal(0UL, space.Entry(0, 2));
        Assert.True(space.Translate(0x20_0000, AccessType.Read, CpuMode.UserMode).Success);
    }

    [Fact]
    public void UnmapRejectsWhatIsNotALeafOfThatSize()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x20_0000, 0x20_0000, PageSize.Size2M, PgProt.Shared);
        space.Map(0x4000_1000, 0x1000, PageSize.Size4K, PgProt.Shared);
        Assert.Throws<InvalidOperationException>(() => space.Unmap(0x20_1000, PageSize.Size4K));   // inside a 2M leaf
        Assert.Throws<InvalidOperationException>(() => space.Unmap(0x4000_0000, PageSize.Size2M)); // a table, not a leaf
        Assert.Throws<InvalidOperationException>(() => space.Unmap(0x80_0000_0000, PageSize.Size4K)); // nothing there
        Assert.True(space.Translate(0x20_1000, AccessType.Read, CpuMode.UserMode).Success);
        Assert.True(space.Translate(0x4000_1000, AccessType.Read, CpuMode.UserMode).Success);
    }

    [Fact]
    public void DisposeReturnsEveryTable()
    {
        using var src = new NativeTableSource();
        var space = new AddressSpace(src, 5);
        for (ulong i = 0; i < 20; i++)
            space.Map(i << 39 | i << 21 | 0x1000, 0x1000, PageSize.Size4K, PgProt.Shared);
        space.Map(0x1FUL << 39, 0x4000_0000, PageSize.Size1G, PgProt.Shared);
        Assert.True(src.TablesInUse > 40);
        space.Dispose();
        Assert.Equal(0, src.TablesInUse);
        space.Dispose();                                                   // idempotent
        Assert.Equal(0, src.TablesInUse);
    }

    [Fact]
    public void CanonicalAddressesAndLimits()
    {
        using var src = new NativeTableSource();
        using var four = new AddressSpace(src, 4);
        using var five = new AddressSpace(src, 5);
        Assert.Equal(48, four.VirtualBits);
        Assert.Equal(57, five.VirtualBits);
        Assert.Equal(1UL << 47, four.UserLimit);
        Assert.Equal(1UL << 56, five.UserLimit);
        Assert.True(four.IsCanonical(0x7FFF_FFFF_FFFF));
        Assert.True(four.IsCanonical(0xFFFF_8000_0000_0000));
        Assert.False(four.IsCanonical(0x8000_0000_0000));
        Assert.True(five.IsCanonical(0x8000_0000_0000));
        Assert.False(five.IsCanonical(0x0100_0000_0000_0000));
        Assert.True(five.IsCanonical(0xFF00_0000_0000_0000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AddressSpace(src, 3));
        // Upper-half (kernel) addresses map and translate in both.
        four.Map(0xFFFF_8000_0000_0000, 0x1000, PageSize.Size4K, PgProt.KernelTable);
        Assert.Equal(256, AddressSpace.Index(0xFFFF_8000_0000_0000, 4));
        Assert.True(four.Translate(0xFFFF_8000_0000_0010, AccessType.Write, CpuMode.Supervisor).Success);
        five.Map(0xFF00_0000_0000_0000, 0x1000, PageSize.Size4K, PgProt.KernelTable);
        Assert.Equal(256, AddressSpace.Index(0xFF00_0000_0000_0000, 5));
        Assert.True(five.Translate(0xFF00_0000_0000_0010, AccessType.Read, CpuMode.Supervisor).Success);
    }

    [Fact]
    public void FindLeafStopsAtTheLeafOrTheFirstEmptySlot()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x1000, 0x7000, PageSize.Size4K, PgProt.Shared);
        space.Map(0x4000_0000, 0x20_0000, PageSize.Size2M, PgProt.Shared);
        space.Map(0x80_0000_0000, 0x4000_0000, PageSize.Size1G, PgProt.Shared);

        ulong* p = space.FindLeaf(0x1234, out int level);
        Assert.Equal((1, 0x7000 | PgProt.Shared), (level, *p));
        p = space.FindLeaf(0x4012_3456, out level);
        Assert.Equal((2, 0x20_0000 | PgProt.Shared | Pte.PageSize), (level, *p));
        p = space.FindLeaf(0x80_1234_5678, out level);
        Assert.Equal((3, 0x4000_0000 | PgProt.Shared | Pte.PageSize), (level, *p));
        p = space.FindLeaf(0x5000, out level);                 // same PT, empty slot
        Assert.Equal((1, 0UL), (level, *p));
        p = space.FindLeaf(0x60_0000, out level);              // same PD, no PT
        Assert.Equal((2, 0UL), (level, *p));
        p = space.FindLeaf(0x7000_0000_0000, out level);       // nothing under that PML4 slot
        Assert.Equal((4, 0UL), (level, *p));
        space.Entry(0x5000, 1) = PteMarker.UffdWp;             // a marker is where the walk stops
        p = space.FindLeaf(0x5000, out level);
        Assert.Equal((1, PteMarker.UffdWp), (level, *p));
    }
}
