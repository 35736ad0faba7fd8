using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Memory;

/// <summary>
/// A failed table allocation must leave every table as it was and leak nothing: the
/// operation throws <see cref="TableAllocationException"/> and TablesInUse is unchanged.
/// </summary>
public unsafe class AllocationFailureTests
{
    private static (NativeTableSource native, FailingTableSource failing, AddressSpace space) NewSpace(int levels)
    {
        var native = new NativeTableSource();
        var failing = new FailingTableSource(native);
        return (native, failing, new AddressSpace(failing, levels));
    }

    public static TheoryData<int, PageSize, int> MapCases()
    {
        var d = new TheoryData<int, PageSize, int>();
        foreach (int levels in new[] { 4, 5 })
            foreach (PageSize size in Enum.GetValues<PageSize>())
            {
                int needed = levels - size.LeafLevel();
                for (int n = 1; n <= needed; n++)
                    d.Add(levels, size, n);
            }
        return d;
    }

    [Theory]
    [MemberData(nameof(MapCases))]
    public void MapFailingOnTheNthTableChangesNothing(int levels, PageSize size, int failOn)
    {
        var (native, failing, space) = NewSpace(levels);
        using (native)
        {
            // Some existing content that shares no tables with the new path.
            space.Map(0x1000, 0x5000, PageSize.Size4K, PgProt.Shared);
            var before = TableSnapshot.Take(space);
            long inUse = native.TablesInUse;

            failing.FailOn = failOn;
            ulong va = 1UL << (space.VirtualBits - 2); // a fresh top-level slot: every table below is missing
            var ex = Assert.Throws<TableAllocationException>(() => space.Map(va, 0x4000_0000, size, PgProt.Shared));
            Assert.Contains($"0x{va:X}", ex.Message, StringComparison.Ordinal);
            Assert.True(failing.Failed);

            Assert.Equal(inUse, native.TablesInUse);
            TableSnapshot.AssertEqual(before, TableSnapshot.Take(space));
            Assert.True(space.TryGetEntry(va, size.LeafLevel()) == null, "a path for the failed map exists");

            // The same map succeeds once tables are available again.
            failing.FailOn = 0;
            space.Map(va, 0x4000_0000, size, PgProt.Shared);
            Assert.True(space.Translate(va, AccessType.Read, CpuMode.UserMode).Success);
            Assert.Equal(inUse + levels - size.LeafLevel(), native.TablesInUse);
            space.Dispose();
            Assert.Equal(0, native.TablesInUse);
        }
    }

    [Fact]
    public void MapFailingPartWayDownAnExistingPathChangesNothing()
    {
        var (native, failing, space) = NewSpace(4);
        using (native)
        {
            space.Map(0x4000_0000, 0x1000, PageSize.Size4K, PgProt.Shared); // PML4, PDPT, PD, PT on the path
            var before = TableSnapshot.Take(space);
            long inUse = native.TablesInUse;
            ulong va = 0x4000_0000 + (5UL << 21);                           // same PD, new PDE -> one PT needed
            failing.FailOn = 1;
            Assert.Throws<TableAllocationException>(() => space.Map(va, 0x2000, PageSize.Size4K, PgProt.Shared));
            Assert.Equal(inUse, native.TablesInUse);
            TableSnapshot.AssertEqual(before, TableSnapshot.Take(space));
            ulong va2 = 0x8000_0000;                                        // new PDPTE: PD and PT needed, second fails
            failing.FailOn = 2;
            Assert.Throws<TableAllocationException>(() => space.Map(va2, 0x2000, PageSize.Size4K, PgProt.Shared));
            Assert.Equal(inUse, native.TablesInUse);
            TableSnapshot.AssertEqual(before, TableSnapshot.Take(space));
            Assert.Equal(1, failing.Frees);                                 // the first table of the failed pair went back
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void SplitFailingChangesNothing(int level)
    {
        var (native, failing, space) = NewSpace(4);
        using (native)
        {
            PageSize size = level == 2 ? PageSize.Size2M : PageSize.Size1G;
            ulong va = 0x40_0000_0000;
            space.Map(va, 0x8000_0000, size, PgProt.Shared | Pte.Dirty);
            var before = TableSnapshot.Take(space);
            long inUse = native.TablesInUse;
            failing.FailOn = 1;
            var ex = Assert.Throws<TableAllocationException>(() => space.Split(va, level));
            Assert.Contains("nothing was changed", ex.Message, StringComparison.Ordinal);
            Assert.Equal(inUse, native.TablesInUse);
            TableSnapshot.AssertEqual(before, TableSnapshot.Take(space));
            failing.FailOn = 0;
            space.Split(va, level);
            Assert.Equal(inUse + 1, native.TablesInUse);
        }
    }

    [Fact]
    public void ConstructorWithoutARootTableThrowsAndHoldsNothing()
    {
        using var native = new NativeTableSource(maxTables: 1);
        Assert.True(native.TryAllocate(out _));
        Assert.Throws<TableAllocationException>(() => new AddressSpace(native));
        Assert.Equal(1, native.TablesInUse);
    }

    [Fact]
    public void EveryFailurePointOfARandomMapSequenceLeaksNothing()
    {
        // Map a sequence of pages; fail allocation k for every k the sequence performs.
        ulong[] vas = [0x1000, 0x20_0000, 0x4000_0000, 0x7F_FFE0_0000, 0x7FFF_FFFF_F000, 0x1_0000_0000, 0x1_0000_1000];
        int total;
        {
            var (native, failing, space) = NewSpace(4);
            using (native)
            {
                foreach (ulong va in vas)
                    space.Map(va, 0x1000, PageSize.Size4K, PgProt.Shared);
                total = (int)failing.Allocations - 1; // minus the root
            }
        }
        Assert.True(total > 5);
        for (int k = 1; k <= total; k++)
        {
            var (native, failing, space) = NewSpace(4);
            using (native)
            {
                failing.FailOn = k;
                int failures = 0;
                foreach (ulong va in vas)
                {
                    var before = TableSnapshot.Take(space);
                    long inUse = native.TablesInUse;
                    try
                    {
                        space.Map(va, 0x1000, PageSize.Size4K, PgProt.Shared);
                    }
                    catch (TableAllocationException)
                    {
                        failures++;
                        Assert.Equal(inUse, native.TablesInUse);
                        TableSnapshot.AssertEqual(before, TableSnapshot.Take(space));
                    }
                }
                Assert.Equal(1, failures);
                space.Dispose();
                Assert.Equal(0, native.TablesInUse);
            }
        }
    }
}
