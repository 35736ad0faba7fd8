using FastPT.Memory;
using Xunit;

namespace FastPT.Tests.Memory;

public unsafe class NativeTableSourceTests
{
    [Fact]
    public void TablesAreZeroedAlignedAndDistinct()
    {
        using var src = new NativeTableSource();
        var seen = new HashSet<ulong>();
        for (int i = 0; i < 200; i++) // more than one chunk
        {
            Assert.True(src.TryAllocate(out ulong pa));
            Assert.Equal(0UL, pa & 4095);
            Assert.True(seen.Add(pa), $"table 0x{pa:X} handed out twice");
            Assert.Equal((nint)pa, (nint)src.Table(pa));
            Assert.False(new ReadOnlySpan<ulong>(src.Table(pa), 512).ContainsAnyExcept(0UL));
            new Span<ulong>(src.Table(pa), 512).Fill(0xDEAD_BEEF_0000_0000UL + (uint)i); // writable, whole page
        }
        Assert.Equal(200, src.TablesInUse);
        Assert.True(src.TablesReserved >= 200);
    }

    [Fact]
    public void SharesCountTheirOwnTablesAndReturnThemToThePool()
    {
        using var pool = new NativeTableSource(maxTables: 3);
        var a = pool.Share();
        var b = a.Share(); // a share of a share draws on the same pool
        Assert.True(a.TryAllocate(out ulong t1));
        Assert.True(b.TryAllocate(out ulong t2));
        Assert.True(b.TryAllocate(out ulong t3));
        Assert.False(a.TryAllocate(out _)); // the pool's limit holds for every share
        Assert.Equal((1L, 2L, 3L), (a.TablesInUse, b.TablesInUse, pool.TablesInUse));
        Assert.Equal((nint)t1, (nint)a.Table(t1));
        Assert.True(a.ContainsTable(t3)); // any table of the pool
        a.Table(t1)[5] = 0x42;
        a.Free(t1);
        a.Dispose(); // releases nothing: the pool's memory
        Assert.Equal((0L, 2L), (a.TablesInUse, pool.TablesInUse));
        Assert.True(b.TryAllocate(out ulong again));
        Assert.Equal(t1, again);                            // warm: the freed table, zeroed
        Assert.False(new ReadOnlySpan<ulong>(b.Table(again), 512).ContainsAnyExcept(0UL));
        Assert.Equal(pool.TablesReserved, b.TablesReserved);
        _ = t2;
    }

    [Fact]
    public void ContainsTableKnowsEveryChunkAndNothingElse()
    {
        using var src = new NativeTableSource();
        var tables = new List<ulong>();
        for (int i = 0; i < 300; i++) // several chunks, wherever the allocator put them
        {
            Assert.True(src.TryAllocate(out ulong t));
            tables.Add(t);
        }
        src.Free(tables[7]);
        foreach (ulong t in tables)
        {
            Assert.True(src.ContainsTable(t));                 // in use or free: the source's memory
            Assert.False(src.ContainsTable(t + 8));            // not a table address
        }
        ulong lowest = tables.Min(), highest = tables.Max();
        Assert.False(src.ContainsTable(lowest - 4096 * 1024)); // below every chunk
        Assert.False(src.ContainsTable(highest + 4096 * 1024)); // above every chunk
        Assert.True(src.Share().ContainsTable(tables[0]));     // a share answers for its pool
        Assert.True(src.Reserve(600));
        Assert.True(src.TablesFree >= 600);
        Assert.Throws<ArgumentOutOfRangeException>(() => src.Reserve(-1));
    }

    [Fact]
    public void TablesFreedEmptyAreReusedAndEveryTableComesBackZero()
    {
        using var src = new NativeTableSource();
        Assert.True(src.TryAllocate(out ulong empty));
        Assert.True(src.TryAllocate(out ulong dirty));
        src.Table(dirty)[100] = 0x55;
        long reserved = src.TablesReserved;
        src.FreeZeroed(empty); // seen all zero by the caller
        src.Free(dirty);
        Assert.Equal(0, src.TablesInUse);
        var again = new HashSet<ulong>();
        for (int i = 0; i < 2; i++)
        {
            Assert.True(src.TryAllocate(out ulong t));
            Assert.False(new ReadOnlySpan<ulong>(src.Table(t), 512).ContainsAnyExcept(0UL));
            again.Add(t);
        }
        Assert.Equal(new HashSet<ulong> { empty, dirty }, again); // both reused, no new chunk
        Assert.Equal(reserved, src.TablesReserved);
    }

    [Fact]
    public void FreedTablesAreReusedAndComeBackZeroed()
    {
        using var src = new NativeTableSource();
        Assert.True(src.TryAllocate(out ulong a));
        Assert.True(src.TryAllocate(out ulong b));
        src.Table(a)[7] = 0x1234;
        src.Table(a)[511] = ulong.MaxValue;
        long reserved = src.TablesReserved;
        src.Free(a);
        Assert.Equal(1, src.TablesInUse);
        Assert.True(src.TryAllocate(out ulong c));
        Assert.Equal(a, c);                                  // the free list is used first
        Assert.Equal(reserved, src.TablesReserved);          // no new chunk for a reused table
        Assert.False(new ReadOnlySpan<ulong>(src.Table(c), 512).ContainsAnyExcept(0UL));
        Assert.Equal(2, src.TablesInUse);
        Assert.NotEqual(b, c);
    }

    [Fact]
    public void LimitRefusesWithoutChangingAnything()
    {
        using var src = new NativeTableSource(maxTables: 3);
        var got = new List<ulong>();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(src.TryAllocate(out ulong pa));
            got.Add(pa);
        }
        Assert.False(src.TryAllocate(out ulong none));
        Assert.Equal(0UL, none);
        Assert.Equal(3, src.TablesInUse);
        Assert.False(src.TryAllocate(out _));
        src.Free(got[1]);
        Assert.True(src.TryAllocate(out ulong again));       // room again after a free
        Assert.Equal(got[1], again);
        Assert.False(src.TryAllocate(out _));
    }

    [Fact]
    public void ReserveUnderALimitReservesNoMoreThanTheLimitAllows()
    {
        using var src = new NativeTableSource(maxTables: 100);
        Assert.True(src.Reserve(1000));
        Assert.Equal(100, src.TablesReserved);
        Assert.Equal(100, src.TablesFree);
        for (int i = 0; i < 100; i++)
            Assert.True(src.TryAllocate(out _));
        Assert.Equal(100, src.TablesReserved); // every allocation came from the reservation
        Assert.False(src.TryAllocate(out _));
        Assert.True(src.Reserve(10));          // nothing more is allowed, so nothing more is needed
        Assert.Equal(100, src.TablesReserved);
    }

    [Fact]
    public void DisposeReleasesEverything()
    {
        var src = new NativeTableSource();
        Assert.True(src.TryAllocate(out _));
        src.Dispose();
        Assert.Equal(0, src.TablesInUse);
        Assert.Equal(0, src.TablesReserved);
    }
}
