using System.Runtime.InteropServices;
using FastPT.Entries;
using FastPT.Memory;
using Xunit;

namespace FastPT.Tests.FrontDoor;

/// <summary>PageTable's memory, options, harvest, and the typed errors of every verb.</summary>
public unsafe class PageTableTests
{
    private const ulong KiB4 = 1UL << 12, MiB2 = 1UL << 21, GiB = 1UL << 30;

    [Fact]
    public void TablesInGuestMemoryHoldGuestPhysicalAddresses()
    {
        const ulong Base = 0x80_0000, Length = 16 * KiB4;
        byte* ram = (byte*)NativeMemory.AlignedAlloc((nuint)Length, 4096);
        try
        {
            using (var table = PageTable.InGuestMemory((nint)ram, Base, Length))
            {
                Assert.Equal(Base, table.Root);
                table.MapRange(0x40_0000, 0x40_0000 + 4 * KiB4, 0x1234_5000, PageFlags.Writable);
                Assert.Equal(4, table.TablesInUse);
                // The guest's CPU follows these links: root -> PDPT -> PD -> PTE table, all in the region.
                ulong* root = (ulong*)ram;
                ulong pdpt = root[0] & Pte.PfnMask, pd = ((ulong*)(ram + (pdpt - Base)))[0] & Pte.PfnMask;
                ulong pt = ((ulong*)(ram + (pd - Base)))[2] & Pte.PfnMask;
                Assert.All(new[] { pdpt, pd, pt }, a => Assert.InRange(a, Base + KiB4, Base + Length - KiB4));
                Assert.Equal(0x1234_6000 | Pte.Present | Pte.Writable, ((ulong*)(ram + (pt - Base)))[1]);
                Assert.Equal(0x1234_6ABCUL, table.Translate(0x40_1ABC, AccessType.Read, CpuMode.Supervisor).PhysicalAddress);

                // A link the guest wrote to memory outside the region is a defined outcome, not a stray read.
                root[7] = 0x7777_0000 | PgProt.Table;
                try
                {
                    var outside = table.Translate(7UL << 39, AccessType.Read, CpuMode.Supervisor);
                    Assert.False(outside.Success);
                    Assert.True(outside.OutsideGuestMemory);
                    Assert.Equal(0x7777_0000UL, outside.PhysicalAddress);
                    Assert.Equal(3, outside.FaultLevel);
                    var flush = new FlushPlan();
                    var w = table.WriteProtect(7UL << 39, (7UL << 39) + KiB4, flush);
                    Assert.Equal(WalkStatus.OutsideGuestMemory, w.Status);
                    Assert.Equal(0, w.EntriesChanged);
                }
                finally
                {
                    root[7] = 0;
                }
            }
            // 16 tables: the root and 15 more; the 16th PTE table does not fit.
            using var full = PageTable.InGuestMemory((nint)ram, Base, Length);
            Assert.Equal(PageTableError.OutOfTables,
                Assert.Throws<PageTableException>(() => full.MapRange(0, 14 * MiB2, 0, PageFlags.None, PageSize.Size4K)).Error);
            Assert.Equal(1, full.TablesInUse);
        }
        finally
        {
            NativeMemory.AlignedFree(ram);
        }
    }

    [Fact]
    public void DisposingTablesInGuestMemoryFollowsNoLinkTheGuestWrote()
    {
        const ulong Base = 0x80_0000, Length = 16 * KiB4;
        byte* ram = (byte*)NativeMemory.AlignedAlloc((nuint)Length, 4096);
        try
        {
            var table = PageTable.InGuestMemory((nint)ram, Base, Length);
            table.MapRange(0x40_0000, 0x40_0000 + 4 * KiB4, 0x1234_5000, PageFlags.Writable);
            ulong* root = (ulong*)ram;
            ulong pdpt = root[0] & Pte.PfnMask;
            ulong* pd = (ulong*)(ram + ((((ulong*)(ram + (pdpt - Base)))[0] & Pte.PfnMask) - Base));
            // The guest rewrites its tables: a link out of its RAM, a loop back to the root, a
            // second link to a PTE table, a link to a pool page FastPT never handed out.
            root[7] = 0x7777_0000 | PgProt.Table;
            pd[5] = Base | PgProt.Table;
            pd[6] = pd[2];
            pd[7] = (Base + 15 * KiB4) | PgProt.Table;
            var error = Record.Exception(table.Dispose);
            Assert.Null(error);
            Assert.Equal(0x7777_0000 | PgProt.Table, root[7]); // left as the guest wrote it
        }
        finally
        {
            NativeMemory.AlignedFree(ram);
        }
    }

    [Fact]
    public void AttachWorksOnAGuestsOwnTablesInPlaceAndFreesNone()
    {
        const ulong Base = 0x80_0000, Length = 16 * KiB4;
        byte* ram = (byte*)NativeMemory.AlignedAlloc((nuint)Length, 4096);
        try
        {
            // The "guest" builds its tables (here with FastPT itself) in its RAM; the VMM attaches at its CR3.
            using var guest = PageTable.InGuestMemory((nint)ram, Base, Length);
            guest.MapRange(0x40_0000, 0x40_0000 + 4 * KiB4, 0x1234_5000, PageFlags.Writable);
            var memory = new GuestMemoryMap();
            memory.Add(Base, Length, ram);
            using (var vmm = PageTable.Attach(memory, guest.Root | 0x18)) // PWT/PCD bits in CR3 are ignored
            {
                Assert.Equal(guest.Root, vmm.Root);
                Assert.Equal(0x1234_6ABCUL, vmm.Translate(0x40_1ABC, AccessType.Write, CpuMode.Supervisor).PhysicalAddress);
                var dirty = new ulong[1];
                var flush = new FlushPlan();
                vmm.Harvest(0x40_0000, 0x40_0000 + 4 * KiB4, dirty, flush);
                Assert.Equal(0b10UL, dirty[0]);
                // No pool: a verb that needs a table stops for lack of one, changing nothing.
                Assert.Equal(PageTableError.OutOfTables,
                    Assert.Throws<PageTableException>(() => vmm.MapRange(0x80_0000, 0x80_1000, 0, PageFlags.None)).Error);
            }
            // Closing the attached table freed none of the guest's tables.
            Assert.Equal(0x1234_6000UL, guest.Translate(0x40_1000, AccessType.Read, CpuMode.Supervisor).PhysicalAddress);
            guest.Verify().ThrowIfInvalid();
            Assert.Equal(PageTableError.InvalidArgument,
                Assert.Throws<PageTableException>(() => PageTable.Attach(memory, 0x7777_0000).Dispose()).Error);
        }
        finally
        {
            NativeMemory.AlignedFree(ram);
        }
    }

    [Fact]
    public void BadGuestMemoryAndOptionsAreTypedErrors()
    {
        byte* ram = (byte*)NativeMemory.AlignedAlloc(8192, 4096);
        try
        {
            Assert.Equal(PageTableError.InvalidArgument, Assert.Throws<PageTableException>(() => PageTable.InGuestMemory(0, 0, 8192)).Error);
            Assert.Equal(PageTableError.Misaligned, Assert.Throws<PageTableException>(() => PageTable.InGuestMemory((nint)ram + 8, 0, 4096)).Error);
            Assert.Equal(PageTableError.Misaligned, Assert.Throws<PageTableException>(() => PageTable.InGuestMemory((nint)ram, 0x800, 8192)).Error);
            Assert.Equal(PageTableError.InvalidArgument, Assert.Throws<PageTableException>(() => PageTable.InGuestMemory((nint)ram, 0, 4095)).Error);
            Assert.Equal(PageTableError.InvalidRange, Assert.Throws<PageTableException>(() => PageTable.InGuestMemory((nint)ram, (1UL << 52) - 4096, 8192)).Error);
            Assert.Equal(PageTableError.InvalidArgument,
                Assert.Throws<PageTableException>(() => PageTable.InGuestMemory((nint)ram, 0, 8192, new PageTableOptions { MaxTables = 2 })).Error);
        }
        finally
        {
            NativeMemory.AlignedFree(ram);
        }
        foreach (var bad in new[] { new PageTableOptions { Levels = 3 }, new PageTableOptions { Parallelism = -2 },
                     new PageTableOptions { BudgetPages = -1 }, new PageTableOptions { MaxTables = -1 } })
            Assert.Equal(PageTableError.InvalidArgument, Assert.Throws<PageTableException>(() => new PageTable(bad)).Error);
        Assert.Equal(PageTableError.OutOfTables, Assert.Throws<PageTableException>(() => new PageTable(new PageTableOptions { MaxTables = 1 }).MapRange(0, KiB4, 0, 0)).Error);
    }

    [Fact]
    public void HarvestReportsWhatTheCpuWroteAndClearsIt()
    {
        using var table = new PageTable(new PageTableOptions { SharedTables = true });
        table.MapRange(0, MiB2 + 64 * KiB4, 0, PageFlags.Writable); // a 2 MiB leaf and 64 pages
        foreach (ulong va in new[] { 5 * KiB4, MiB2 + 3 * KiB4, MiB2 + 63 * KiB4 + 9 })
            Assert.True(table.Translate(va, AccessType.Write, CpuMode.Supervisor).Success);
        ulong pages = (MiB2 + 64 * KiB4) / KiB4;
        var bitmap = new ulong[(pages + 63) / 64];
        var flush = new FlushPlan();
        var r = table.Harvest(0, MiB2 + 64 * KiB4, bitmap, flush);
        Assert.Equal(512 + 2, r.EntriesChanged);
        Assert.All(bitmap[..8], w => Assert.Equal(ulong.MaxValue, w)); // the whole 2 MiB leaf was dirty
        Assert.Equal((1UL << 3) | (1UL << 63), bitmap[8]);
        Assert.Equal([new FlushRange(0, MiB2), new FlushRange(MiB2 + 3 * KiB4, MiB2 + 4 * KiB4), new FlushRange(MiB2 + 63 * KiB4, MiB2 + 64 * KiB4)], flush.Ranges.ToArray());
        Assert.Equal(0, table.Harvest(0, MiB2 + 64 * KiB4, bitmap, flush).EntriesChanged);
        Assert.All(bitmap, w => Assert.Equal(0UL, w));

        var e = Assert.Throws<PageTableException>(() => table.Harvest(0, MiB2 + 64 * KiB4, new ulong[8], flush));
        Assert.Equal(PageTableError.BufferTooSmall, e.Error);
        Assert.Contains("pass at least 9 words", e.Message);
    }

    [Fact]
    public void EveryRangeVerbRefusesBadRangesTheSameWay()
    {
        using var table = new PageTable();
        var flush = new FlushPlan();
        var regions = new PageRegion[4];
        var bitmap = new ulong[4];
        var verbs = new Action<ulong, ulong>[]
        {
            (s, e) => table.UnmapRange(s, e, flush),
            (s, e) => table.WriteProtect(s, e, flush),
            (s, e) => table.Unprotect(s, e, flush),
            (s, e) => table.ChangeProtection(s, e, ChangeProtectionParams.UffdUnprotect(PgProt.Shared), flush),
            (s, e) => table.Zap(s, e, ZapParams.DontNeed, flush),
            (s, e) => table.Harvest(s, e, bitmap, flush),
            (s, e) => table.Scan(s, e, new PagemapScanRequest(), regions, flush),
        };
        foreach (var verb in verbs)
        {
            Assert.Equal(PageTableError.InvalidRange, Assert.Throws<PageTableException>(() => verb(0x2000, 0x1000)).Error);
            Assert.Equal(PageTableError.InvalidRange, Assert.Throws<PageTableException>(() => verb(0x2000, 0x2000)).Error);
            Assert.Equal(PageTableError.Misaligned, Assert.Throws<PageTableException>(() => verb(0x1008, 0x2000)).Error);
            Assert.Equal(PageTableError.InvalidRange, Assert.Throws<PageTableException>(() => verb(0x8000_0000_0000, 0x8000_0000_1000)).Error);
        }
        Assert.Throws<ArgumentNullException>(() => table.WriteProtect(0, KiB4, null!));
        Assert.Equal(PageTableError.InvalidRange, Assert.Throws<PageTableException>(() => table.Translate(0x8000_0000_0000, AccessType.Read, CpuMode.Supervisor)).Error);
        Assert.Equal(PageTableError.InvalidArgument, Assert.Throws<PageTableException>(() => table.Scan(0, KiB4, new PagemapScanRequest(MaxPages: -1), regions, flush)).Error);
        Assert.Equal(1, table.TablesInUse);

        table.Dispose();
        Assert.Throws<ObjectDisposedException>(() => table.WriteProtect(0, KiB4, flush));
        Assert.Throws<ObjectDisposedException>(() => table.Translate(0, AccessType.Read, CpuMode.Supervisor));
        Assert.Throws<ObjectDisposedException>(() => table.MapRange(0, KiB4, 0, 0));
    }

    [Fact]
    public void ABudgetStopsAWalkWhereItCanResume()
    {
        using var table = new PageTable(new PageTableOptions { BudgetPages = 1024 });
        table.MapRange(0, 8 * MiB2, 0, PageFlags.Writable, PageSize.Size4K);
        var flush = new FlushPlan();
        ulong at = 0;
        int calls = 0;
        for (WalkResult r; ; at = r.WalkEnd, calls++)
        {
            r = table.WriteProtect(at, 8 * MiB2, flush);
            if (r.Complete)
                break;
            Assert.Equal(WalkStatus.BudgetExhausted, r.Status);
        }
        Assert.Equal(3, calls);
        Assert.Equal(new FlushRange(0, 8 * MiB2), Assert.Single(flush.Ranges.ToArray()));
    }
}
