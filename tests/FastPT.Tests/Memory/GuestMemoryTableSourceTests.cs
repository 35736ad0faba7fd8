using System.Runtime.InteropServices;
using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Memory;

public sealed unsafe class GuestMemoryTableSourceTests : IDisposable
{
    private const ulong GuestBase = 0x0020_0000;
    private const int Tables = 8;
    private readonly byte* _host = (byte*)NativeMemory.AlignedAlloc(Tables * 4096, 4096);

    public void Dispose() => NativeMemory.AlignedFree(_host);

    [Fact]
    public void HandsOutGuestPhysicalAddressesInOrderAndPointsIntoTheRegion()
    {
        new Span<byte>(_host, Tables * 4096).Fill(0xCC);
        var src = new GuestMemoryTableSource(_host, GuestBase, Tables * 4096);
        for (int i = 0; i < Tables; i++)
        {
            Assert.True(src.TryAllocate(out ulong pa));
            Assert.Equal(GuestBase + (ulong)i * 4096, pa);
            Assert.Equal((nint)(_host + i * 4096), (nint)src.Table(pa));
            Assert.False(new ReadOnlySpan<ulong>(src.Table(pa), 512).ContainsAnyExcept(0UL)); // zeroed over the 0xCC fill
        }
        Assert.Equal(Tables, src.TablesInUse);
        Assert.False(src.TryAllocate(out ulong none));       // exhausted
        Assert.Equal(0UL, none);
        Assert.Equal(Tables, src.TablesInUse);
        src.Free(GuestBase + 3 * 4096);
        Assert.True(src.TryAllocate(out ulong reused));
        Assert.Equal(GuestBase + 3 * 4096, reused);
    }

    [Fact]
    public void EntriesWrittenByMapAreGuestPhysical()
    {
        var src = new GuestMemoryTableSource(_host, GuestBase, Tables * 4096);
        var space = new AddressSpace(src);
        Assert.Equal(GuestBase, space.Root);
        space.Map(0x7F00_0000_1000, 0x4000_0000, PageSize.Size4K, PgProt.Shared);
        // root (PML4) -> PDPT at +1 page -> PD at +2 -> PT at +3, links hold guest-physical addresses
        ulong* root = (ulong*)_host;
        ulong pml4e = root[AddressSpace.Index(0x7F00_0000_1000, 4)];
        Assert.Equal(GuestBase + 0x1000 | PgProt.Table, pml4e);
        ulong pdpte = ((ulong*)(_host + 0x1000))[AddressSpace.Index(0x7F00_0000_1000, 3)];
        Assert.Equal(GuestBase + 0x2000 | PgProt.Table, pdpte);
        ulong pde = ((ulong*)(_host + 0x2000))[AddressSpace.Index(0x7F00_0000_1000, 2)];
        Assert.Equal(GuestBase + 0x3000 | PgProt.Table, pde);
        ulong pte = ((ulong*)(_host + 0x3000))[1];
        Assert.Equal(0x4000_0000 | PgProt.Shared, pte);
        var r = space.Translate(0x7F00_0000_1234, AccessType.Read, CpuMode.UserMode);
        Assert.True(r.Success);
        Assert.Equal(0x4000_0234UL, r.PhysicalAddress);
        Assert.Equal(4, src.TablesInUse);
    }

    [Fact]
    public void RejectsMisalignedOrTooSmallMemory()
    {
        var e1 = Assert.Throws<ArgumentException>(() => new GuestMemoryTableSource(_host + 8, GuestBase, 4096));
        Assert.Contains("aligned", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ArgumentException>(() => new GuestMemoryTableSource(_host, GuestBase + 0x800, 4096));
        Assert.Contains("aligned", e2.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestMemoryTableSource(_host, GuestBase, 4095));
        Assert.Throws<ArgumentNullException>(() => new GuestMemoryTableSource((byte*)null, GuestBase, 4096));
    }

    [Fact]
    public void SizeRoundsDownToWholeTables()
    {
        var src = new GuestMemoryTableSource(_host, GuestBase, 2 * 4096 + 100);
        Assert.True(src.TryAllocate(out _));
        Assert.True(src.TryAllocate(out _));
        Assert.False(src.TryAllocate(out _));
    }

    [Fact]
    public void RejectsARegionBeyond52PhysicalAddressBits()
    {
        // An entry holds bits 12..51 of an address: tables above 2^52 could not be linked.
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestMemoryTableSource(_host, (1UL << 52) - 4096, 2 * 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestMemoryTableSource(_host, 0xFFFF_FFFF_FFFF_F000, 4096));
        var ok = new GuestMemoryTableSource(_host, (1UL << 52) - 4096, 4096);
        Assert.True(ok.TryAllocate(out ulong pa));
        Assert.Equal((1UL << 52) - 4096, pa);
    }

    [Fact]
    public void FreeRejectsAddressesItDidNotHandOut()
    {
        var src = new GuestMemoryTableSource(_host, GuestBase, Tables * 4096);
        Assert.True(src.TryAllocate(out ulong pa));
        Assert.Throws<ArgumentException>(() => src.Free(pa + 8));
        Assert.Throws<ArgumentException>(() => src.Free(GuestBase - 4096));
        Assert.Throws<ArgumentException>(() => src.Free(GuestBase + Tables * 4096));
        Assert.Equal(1, src.TablesInUse);
    }

    [Fact]
    public void TableOutsideTheRegionThrowsInsteadOfTouchingForeignMemory()
    {
        var src = new GuestMemoryTableSource(_host, GuestBase, Tables * 4096);
        Assert.Throws<ArgumentOutOfRangeException>(() => (nint)src.Table(GuestBase - 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => (nint)src.Table(GuestBase + Tables * 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => (nint)src.Table(0));
        Assert.Equal((nint)(_host + 2 * 4096), (nint)src.Table(GuestBase + 2 * 4096));
    }

    [Fact]
    public void AGuestWrittenLinkOutsideTheRegionEndsTheWalkOutsideGuestMemory()
    {
        var src = new GuestMemoryTableSource(_host, GuestBase, Tables * 4096);
        var space = new AddressSpace(src);
        space.Map(0x1000, 0x5000, PageSize.Size4K, PgProt.Shared);
        // The guest rewrites its PML4E to point at memory that is not guest RAM.
        space.Table(space.Root)[0] = 0x4000_0000 | PgProt.Table;
        var r = space.Translate(0x1000, AccessType.Read, CpuMode.UserMode);
        Assert.True(r.OutsideGuestMemory);
        Assert.False(r.Success);
        Assert.Equal((0x4000_0000UL, 3, PageFaultError.None), (r.PhysicalAddress, r.FaultLevel, r.ErrorCode));
    }
}
