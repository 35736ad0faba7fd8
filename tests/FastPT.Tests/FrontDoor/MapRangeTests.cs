using FastPT.Entries;
using Xunit;

namespace FastPT.Tests.FrontDoor;

/// <summary>PageTable.MapRange: the leaf it chooses at each step, and that a refused or failed map changes nothing.</summary>
public unsafe class MapRangeTests
{
    private const ulong KiB4 = 1UL << 12, MiB2 = 1UL << 21, GiB = 1UL << 30;
    private const PageFlags Rw = PageFlags.Writable | PageFlags.User;

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void ChoosesTheLargestLeafByAlignmentOfBothAddresses(int levels)
    {
        using var table = new PageTable(new PageTableOptions { Levels = levels });
        // 3 GiB + 6 MiB + 8 KiB from 0 to 0: three 1 GiB, three 2 MiB and two 4 KiB leaves.
        ulong end = 3 * GiB + 3 * MiB2 + 2 * KiB4;
        var m = table.MapRange(0, end, 0, Rw);
        Assert.Equal(new MapResult(2, 3, 3, m.TablesAllocated), m);
        Assert.Equal(PageSize.Size1G, Size(table, 2 * GiB + 5));
        Assert.Equal(PageSize.Size2M, Size(table, 3 * GiB + 2 * MiB2));
        Assert.Equal(PageSize.Size4K, Size(table, 3 * GiB + 3 * MiB2 + KiB4));
        for (ulong va = 0; va < end; va += 4093 * KiB4 + 123)
            Assert.Equal(va, table.Translate(va, AccessType.Write, CpuMode.UserMode).PhysicalAddress);
        Assert.False(table.Translate(end, AccessType.Read, CpuMode.UserMode).Success);
    }

    [Fact]
    public void PhysicalAlignmentLimitsTheLeaf()
    {
        using var table = new PageTable();
        // va 1 GiB-aligned, pa only 2 MiB-aligned: 2 MiB leaves; pa 4 KiB-aligned: 4 KiB leaves.
        Assert.Equal(new MapResult(0, 512, 0, 2), table.MapRange(GiB, 2 * GiB, 0x1_0020_0000, Rw)); // a PDPT and a PD
        var m = table.MapRange(4 * GiB, 4 * GiB + 2 * MiB2, 0x2_0000_1000, Rw);
        Assert.Equal((1024L, 0L, 0L), (m.Leaves4K, m.Leaves2M, m.Leaves1G));
        var t = table.Translate(GiB + MiB2 + 77, AccessType.Read, CpuMode.UserMode);
        Assert.Equal((0x1_0040_0000UL + 77, PageSize.Size2M), (t.PhysicalAddress, t.Size));
    }

    [Fact]
    public void UnalignedEdgesGetSmallLeavesAndTheMiddleLargeOnes()
    {
        using var table = new PageTable();
        // Two 4 KiB pages below 1 GiB, one 2 MiB leaf at 1 GiB, one 4 KiB page after it.
        var m = table.MapRange(GiB - 2 * KiB4, GiB + MiB2 + KiB4, GiB - 2 * KiB4, Rw);
        Assert.Equal((3L, 1L, 0L), (m.Leaves4K, m.Leaves2M, m.Leaves1G));
        Assert.Equal(PageSize.Size4K, Size(table, GiB - KiB4));
        Assert.Equal(PageSize.Size2M, Size(table, GiB));
        Assert.Equal(PageSize.Size4K, Size(table, GiB + MiB2));
    }

    [Fact]
    public void LargestCapsTheLeafAndAnExistingTableTakesSmallerLeaves()
    {
        using var table = new PageTable();
        Assert.Equal(512L, table.MapRange(0, MiB2, 0, Rw, largest: PageSize.Size4K).Leaves4K);
        Assert.Equal((0L, 512L, 0L), Leaves(table.MapRange(GiB, 2 * GiB, GiB, Rw, largest: PageSize.Size2M)));
        // A 4 KiB-entry table stays behind in [2 MiB, 4 MiB) after its pages go; mapping over it
        // fills that table instead of replacing the link with a 2 MiB leaf.
        table.MapRange(MiB2, MiB2 + KiB4, MiB2, Rw);
        var flush = new FlushPlan();
        table.UnmapRange(MiB2, MiB2 + KiB4, flush);
        Assert.Equal((512L, 0L, 0L), Leaves(table.MapRange(MiB2, 2 * MiB2, MiB2, Rw)));
    }

    [Fact]
    public void FlagsLandWhereTheHardwareReadsThemAtEachSize()
    {
        using var table = new PageTable();
        var f = PageFlags.Writable | PageFlags.Global | PageFlags.NoExecute | PageFlags.Pat | PageFlags.CacheDisable;
        table.MapRange(0, MiB2 + KiB4, 0x4000_0000, f);
        ulong huge = table.Space.Entry(0, 2), small = table.Space.Entry(MiB2, 1);
        Assert.Equal(0x4000_0000 | Pte.Present | Pte.Writable | Pte.Global | Pte.NoExecute | Pte.PatLarge | Pte.CacheDisable | Pte.PageSize, huge);
        Assert.Equal(0x4020_0000 | Pte.Present | Pte.Writable | Pte.Global | Pte.NoExecute | Pte.Pat4K | Pte.CacheDisable, small);
        var t = table.Translate(5, AccessType.Write, CpuMode.UserMode);
        Assert.Equal(PageFaultError.Present | PageFaultError.Write | PageFaultError.User, t.ErrorCode); // no User flag
    }

    [Fact]
    public void MappingOverAnEntryIsRefusedAndChangesNothing()
    {
        using var table = new PageTable();
        table.MapRange(GiB + 5 * KiB4, GiB + 6 * KiB4, 0x9000, Rw);
        long tables = table.TablesInUse;
        var e = Assert.Throws<PageTableException>(() => table.MapRange(GiB, GiB + MiB2, 0, Rw));
        Assert.Equal(PageTableError.AlreadyMapped, e.Error);
        Assert.Contains("0x40005000", e.Message);
        Assert.Equal(tables, table.TablesInUse);
        Assert.False(table.Translate(GiB, AccessType.Read, CpuMode.UserMode).Success);
        // A marker (written by the Linux-level verb) counts as an entry too.
        var flush = new FlushPlan();
        table.ChangeProtection(4 * GiB, 4 * GiB + KiB4, ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true), flush);
        Assert.Equal(PageTableError.AlreadyMapped, Assert.Throws<PageTableException>(() => table.MapRange(4 * GiB, 4 * GiB + KiB4, 0, Rw)).Error);
    }

    [Fact]
    public void RunningOutOfTablesUndoesTheWholeCall()
    {
        // Root, PDPT, PD and two PTE tables: the second 2 MiB of 4 KiB pages finds no table.
        using var table = new PageTable(new PageTableOptions { MaxTables = 5 });
        table.MapRange(GiB - KiB4, GiB, 0x7000, Rw); // the last page of the first GiB: root, PDPT, PD, one PTE table
        long before = table.TablesInUse;
        var e = Assert.Throws<PageTableException>(() => table.MapRange(0, 3 * MiB2, 0, Rw, PageSize.Size4K));
        Assert.Equal(PageTableError.OutOfTables, e.Error);
        Assert.Contains("nothing was changed", e.Message);
        Assert.Equal(before, table.TablesInUse);
        Assert.False(table.Translate(0, AccessType.Read, CpuMode.Supervisor).Success);
        Assert.True(table.Translate(GiB - 1, AccessType.Read, CpuMode.Supervisor).Success);
        // With 2 MiB leaves the same range needs no PTE table and fits.
        Assert.Equal((0L, 3L, 0L), Leaves(table.MapRange(0, 3 * MiB2, 0, Rw)));
    }

    [Theory]
    [InlineData(0x1000UL, 0x1000UL, 0UL, PageTableError.InvalidRange)]          // empty
    [InlineData(0x2000UL, 0x1000UL, 0UL, PageTableError.InvalidRange)]          // reversed
    [InlineData(0x1001UL, 0x2000UL, 0UL, PageTableError.Misaligned)]
    [InlineData(0x1000UL, 0x2800UL, 0UL, PageTableError.Misaligned)]
    [InlineData(0x1000UL, 0x2000UL, 0x123UL, PageTableError.Misaligned)]        // physical
    [InlineData(0x7FFF_FFFF_F000UL, 0x8000_0000_1000UL, 0UL, PageTableError.InvalidRange)]  // across the hole
    [InlineData(0x1000UL, 0x2000UL, 0xF_FFFF_FFFF_F000UL + 0x1000, PageTableError.InvalidRange)] // beyond 2^52
    public void BadRangesAreTypedErrors(ulong start, ulong end, ulong pa, PageTableError error)
    {
        using var table = new PageTable();
        Assert.Equal(error, Assert.Throws<PageTableException>(() => table.MapRange(start, end, pa, Rw)).Error);
        Assert.Equal(1, table.TablesInUse);
    }

    [Fact]
    public void UnknownFlagsAndSizesAreRefused()
    {
        using var table = new PageTable();
        Assert.Equal(PageTableError.InvalidArgument, Assert.Throws<PageTableException>(() => table.MapRange(0, KiB4, 0, (PageFlags)Pte.UffdWp)).Error);
        Assert.Equal(PageTableError.InvalidArgument, Assert.Throws<PageTableException>(() => table.MapRange(0, KiB4, 0, (PageFlags)0x5000)).Error);
        Assert.Equal(PageTableError.InvalidArgument, Assert.Throws<PageTableException>(() => table.MapRange(0, KiB4, 0, Rw, (PageSize)3)).Error);
    }

    private static PageSize Size(PageTable table, ulong va) => table.Translate(va, AccessType.Read, CpuMode.Supervisor, updateAccessedDirty: false).Size;

    private static (long, long, long) Leaves(MapResult m) => (m.Leaves4K, m.Leaves2M, m.Leaves1G);
}
