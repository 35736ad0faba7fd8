using FastPT.Memory;
using Xunit;

namespace FastPT.Tests.Memory;

/// <summary>Bulk reservation: tables made available up front, zeroed, and counted exactly.</summary>
public unsafe class NativeTableSourceReserveTests
{
    [Fact]
    public void ReservedTablesAreHandedOutWithoutNewChunksAndZeroed()
    {
        using var src = new NativeTableSource();
        Assert.True(src.Reserve(1000));
        long reserved = src.TablesReserved;
        Assert.True(reserved >= 1000 && src.TablesFree == reserved);
        Assert.Equal(0, src.TablesInUse);
        var seen = new HashSet<ulong>();
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(src.TryAllocate(out ulong pa));
            Assert.True(seen.Add(pa));
            Assert.Equal(0UL, pa & 4095);
            Assert.False(new ReadOnlySpan<ulong>(src.Table(pa), 512).ContainsAnyExcept(0UL));
            new Span<ulong>(src.Table(pa), 512).Fill(ulong.MaxValue);
        }
        Assert.Equal(reserved, src.TablesReserved); // no allocation during the "walk"
        Assert.Equal(1000, src.TablesInUse);
    }

    [Fact]
    public void RecycledTablesStillComeBackZeroedAfterReserve()
    {
        using var src = new NativeTableSource();
        Assert.True(src.TryAllocate(out ulong a));
        new Span<ulong>(src.Table(a), 512).Fill(0x1234);
        src.Free(a);
        Assert.True(src.Reserve(10));
        for (int i = 0; i < 10; i++)
        {
            Assert.True(src.TryAllocate(out ulong pa));
            Assert.False(new ReadOnlySpan<ulong>(src.Table(pa), 512).ContainsAnyExcept(0UL));
        }
    }

    [Fact]
    public void ReserveStopsAtTheLimitAndRejectsNegativeCounts()
    {
        using var src = new NativeTableSource(maxTables: 100);
        Assert.True(src.Reserve(10_000));
        Assert.True(src.TablesReserved is >= 100 and <= 512, $"reserved {src.TablesReserved} for a limit of 100");
        Assert.Throws<ArgumentOutOfRangeException>(() => src.Reserve(-1));
        Assert.True(src.Reserve(0));
    }
}
