using FastPT.Memory;
using Xunit;

namespace FastPT.Tests.Memory;

public sealed unsafe class GuestMemoryMapTests : IDisposable
{
    // Low RAM below a hole, high RAM above it, as a PC's memory map has around the PCI hole.
    private readonly GuardedGuestMemory _ram = new((0x0, 4), (0x1_0000_0000, 4));

    public void Dispose() => _ram.Dispose();

    private GuestMemoryMap Map => _ram.Map;

    [Fact]
    public void AddressesMapIntoTheirRegionAndHolesMapToNothing()
    {
        fixed (ulong* low = _ram.Region(0), high = _ram.Region(1))
        {
            Assert.Equal((nint)low, (nint)Map.TryHost(0));
            Assert.Equal((nint)((byte*)low + 0x3FFF), (nint)Map.TryHost(0x3FFF));
            Assert.Equal((nint)((byte*)high + 0x1234), (nint)Map.TryHost(0x1_0000_1234));
            Assert.Equal((nint)((byte*)high + 0x2000), (nint)Map.TryPage(0x1_0000_2FF8));
        }
        Assert.True(Map.TryHost(0x4000) == null);            // first byte of the hole
        Assert.True(Map.TryHost(0xFFFF_FFFF) == null);       // last byte of the hole
        Assert.True(Map.TryHost(0x1_0000_4000) == null);     // past the last region
        Assert.True(Map.TryPage(0x4000) == null);
        Assert.True(Map.TryHost(0x3FF8, 8) != null);
        Assert.True(Map.TryHost(0x3FF9, 8) == null);         // runs off the end of the region
        Assert.Equal(2, Map.Regions.Length);
        Assert.Equal("[0x0, 0x4000), [0x100000000, 0x100004000)", Map.Describe());
    }

    [Fact]
    public void RegionsAreKeptInOrderAndRemovedWhole()
    {
        var map = new GuestMemoryMap();
        byte* host = (byte*)0x7000_0000_0000;
        map.Add(0x20_0000, 0x1000, host);
        map.Add(0x0, 0x1000, host + 0x1000);
        map.Add(0x10_0000, 0x2000, host + 0x2000);
        Assert.Equal([0x0UL, 0x10_0000, 0x20_0000], map.Regions.ToArray().Select(r => r.GuestPhysical));
        Assert.True(map.Remove(0x10_0000));
        Assert.False(map.Remove(0x10_0000));
        Assert.False(map.Remove(0x20_0800));                 // not a region's start
        Assert.True(map.TryHost(0x10_0000) == null);
        Assert.True(map.TryHost(0x20_0000) == host);
    }

    [Fact]
    public void BadRegionsAreRefusedWithTheReasonAndChangeNothing()
    {
        var map = new GuestMemoryMap();
        byte* host = (byte*)0x7000_0000_0000;
        map.Add(0x10_0000, 0x10_0000, host);
        Assert.Contains("overlaps", Assert.Throws<ArgumentException>(() => map.Add(0x1F_F000, 0x2000, host)).Message, StringComparison.Ordinal);
        Assert.Contains("overlaps", Assert.Throws<ArgumentException>(() => map.Add(0x0F_F000, 0x2000, host)).Message, StringComparison.Ordinal);
        Assert.Contains("overlaps", Assert.Throws<ArgumentException>(() => map.Add(0x0, 0x100_0000, host)).Message, StringComparison.Ordinal);
        Assert.Contains("aligned", Assert.Throws<ArgumentException>(() => map.Add(0x800, 0x1000, host)).Message, StringComparison.Ordinal);
        Assert.Contains("aligned", Assert.Throws<ArgumentException>(() => map.Add(0x0, 0x1800, host)).Message, StringComparison.Ordinal);
        Assert.Contains("aligned", Assert.Throws<ArgumentException>(() => map.Add(0x0, 0x1000, host + 8)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => map.Add(0x0, 0, host));
        Assert.Throws<ArgumentNullException>(() => map.Add(0x0, 0x1000, null));
        Assert.Contains("2^52", Assert.Throws<ArgumentOutOfRangeException>(() => map.Add(GuestMemoryMap.MaxGuestPhysical - 0x1000, 0x2000, host)).Message, StringComparison.Ordinal);
        map.Add(0x20_0000, 0x1000, host); // touching is not overlapping
        map.Add(GuestMemoryMap.MaxGuestPhysical - 0x1000, 0x1000, host);
        Assert.Equal(3, map.Regions.Length);
        // Adjacent regions: a range across the seam is refused (their host memory need not be contiguous).
        Assert.True(map.TryHost(0x1F_FFFC, 8) == null);
        Assert.True(map.TryHost(0xF_FFFF_FFFF_FFFF) != null);
        Assert.Throws<ArgumentOutOfRangeException>(() => (nint)map.Host(0x30_0000));
    }

    [Fact]
    public void TablesAreReachedInEveryRegionButMadeOnlyFromThePool()
    {
        var source = new GuestMemoryTableSource(Map, poolGuestPhysical: 0x1_0000_1000, poolSize: 2 * 4096);
        Assert.True(source.TryAllocate(out ulong a));
        Assert.True(source.TryAllocate(out ulong b));
        Assert.False(source.TryAllocate(out _));
        Assert.Equal((0x1_0000_1000UL, 0x1_0000_2000UL), (a, b));
        fixed (ulong* low = _ram.Region(0))
            Assert.Equal((nint)(low + 512), (nint)source.Table(0x1000));   // a guest table in the other region
        Assert.True(source.TryTable(0x8000) == null);
        Assert.Throws<ArgumentOutOfRangeException>(() => (nint)source.Table(0x8000));
        // A table the guest made is never taken into the pool.
        Assert.Throws<ArgumentException>(() => source.Free(0x1000));
        source.Free(a);
        Assert.Equal(1, source.TablesInUse);
    }

    [Fact]
    public void APoolOutsideGuestMemoryIsRefusedAndAPoolWhoseRegionWentGivesNoTables()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestMemoryTableSource(Map, 0x3000, 2 * 4096)); // runs into the hole
        Assert.Throws<ArgumentException>(() => new GuestMemoryTableSource(Map, 0x800, 4096));
        var none = new GuestMemoryTableSource(Map);
        Assert.False(none.TryAllocate(out _));                 // no pool: FastPT makes no tables

        var map = new GuestMemoryMap();
        fixed (ulong* low = _ram.Region(0))
            map.Add(0x0, 0x4000, (byte*)low);
        var source = new GuestMemoryTableSource(map, 0x0, 0x4000);
        Assert.True(source.TryAllocate(out _));
        map.Remove(0x0);
        Assert.False(source.TryAllocate(out _));
        Assert.Equal(1, source.TablesInUse);
    }
}
