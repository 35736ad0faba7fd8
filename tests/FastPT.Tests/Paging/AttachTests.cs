using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Memory;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Paging;

/// <summary>An address space over tables a guest wrote into its own RAM (several regions, a hole between).</summary>
public sealed unsafe class AttachTests : IDisposable
{
    private const ulong Low = 0x0, High = 0x1_0000_0000;       // RAM below and above a 4 GiB hole
    private const ulong Link = Pte.Present | Pte.Writable | Pte.User;
    private const ulong Leaf = Pte.Present | Pte.Writable | Pte.User;
    private readonly GuardedGuestMemory _ram = new((Low, 16), (High, 16));

    public void Dispose() => _ram.Dispose();

    private GuestMemoryMap Map => _ram.Map;

    /// <summary>What the guest does with a store instruction.</summary>
    private void Write(ulong table, int index, ulong value) => *(ulong*)Map.Host(table + (ulong)index * 8, 8) = value;

    private ulong Read(ulong table, int index) => *(ulong*)Map.Host(table + (ulong)index * 8, 8);

    private ulong[] Everything() => [.. _ram.Region(0).ToArray(), .. _ram.Region(1).ToArray()];

    private static int I(ulong va, int level) => AddressSpace.Index(va, level);

    /// <summary>PML4 high, PDPT low, PD high, PT low: va 0x7F12_3456_7000 -> frame 0x8000_0000 (in the hole: MMIO).</summary>
    private const ulong Va = 0x7F12_3456_7000, Pml4 = High, Pdpt = Low + 0x1000, Pd = High + 0x2000, Pt = Low + 0x3000, Frame = 0x8000_0000;

    private void BuildGuestTables()
    {
        Write(Pml4, I(Va, 4), Pdpt | Link);
        Write(Pdpt, I(Va, 3), Pd | Link);
        Write(Pd, I(Va, 2), Pt | Link);
        Write(Pt, I(Va, 1), Frame | Leaf);
    }

    [Fact]
    public void AttachWalksTheGuestsTablesAcrossRegionsAndIgnoresCr3LowBits()
    {
        BuildGuestTables();
        var source = new GuestMemoryTableSource(Map);
        using var space = AddressSpace.Attach(source, Pml4 | 0x18 | (1UL << 63)); // PWT|PCD, and the PCID no-flush bit
        Assert.Equal(Pml4, space.Root);
        Assert.True(space.IsAttached);
        var r = space.Translate(Va | 0x123, AccessType.Write, CpuMode.UserMode);
        Assert.Equal(new TranslateResult(true, Frame | 0x123, PageSize.Size4K, PageFaultError.None, 0), r);
        // A and D written into the guest's own entries, wherever they live.
        Assert.Equal(Pdpt | Link | Pte.Accessed, Read(Pml4, I(Va, 4)));
        Assert.Equal(Frame | Leaf | Pte.Accessed | Pte.Dirty, Read(Pt, I(Va, 1)));
    }

    [Fact]
    public void AttachRefusesARootWhereThereIsNoRam()
    {
        var source = new GuestMemoryTableSource(Map);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => AddressSpace.Attach(source, 0x8000_0000));
        Assert.Contains("[0x0, 0x10000), [0x100000000, 0x100010000)", e.Message, StringComparison.Ordinal);
        using var owned = new AddressSpace(new GuestMemoryTableSource(Map, High + 0x8000, 0x4000));
        Assert.Throws<InvalidOperationException>(() => owned.LoadRoot(Pml4));
    }

    [Fact]
    public void LoadRootFollowsTheGuestsCr3()
    {
        BuildGuestTables();
        const ulong other = Low + 0x8000; // a second PML4 sharing the PDPT
        Write(other, I(Va, 4), Pdpt | Link & ~Pte.User);
        using var space = AddressSpace.Attach(new GuestMemoryTableSource(Map), Pml4);
        Assert.True(space.Translate(Va, AccessType.Read, CpuMode.UserMode).Success);
        space.LoadRoot(other);
        Assert.Equal(PageFaultError.Present | PageFaultError.User, space.Translate(Va, AccessType.Read, CpuMode.UserMode).ErrorCode);
        Assert.Throws<ArgumentOutOfRangeException>(() => space.LoadRoot(0x8000_0000));
        Assert.Equal(other, space.Root); // unchanged by the refused load
    }

    [Fact]
    public void FiveLevelTablesAttachToo()
    {
        const ulong pml5 = High + 0x5000, va5 = 0x00AB_7F12_3456_7000;
        Write(pml5, I(va5, 5), Pml4 | Link);
        Write(Pml4, I(va5, 4), Pdpt | Link);
        Write(Pdpt, I(va5, 3), Pd | Link);
        Write(Pd, I(va5, 2), 0x4000_0000 | Leaf | Pte.PageSize);
        using var space = AddressSpace.Attach(new GuestMemoryTableSource(Map), pml5, levels: 5);
        var r = space.Translate(va5 | 0x1_2345, AccessType.Read, CpuMode.UserMode);
        Assert.Equal((true, 0x4000_0000UL | (va5 & 0x1F_FFFF) | 0x1_2345, PageSize.Size2M), (r.Success, r.PhysicalAddress, r.Size));
    }

    [Fact]
    public void NothingTheGuestBuiltIsEverFreed()
    {
        BuildGuestTables();
        var source = new GuestMemoryTableSource(Map, High + 0x8000, 4 * 4096);
        ulong[] before = Everything();
        var space = AddressSpace.Attach(source, Pml4);
        var flush = new FlushPlan();
        // A zap covering the whole PT empties it; the PT stays linked (the guest owns it).
        var r = PageTableOps.Zap(space, Va & ~0x1F_FFFFUL, (Va & ~0x1F_FFFFUL) + 0x20_0000, ZapParams.Unmap, flush);
        Assert.Equal((WalkStatus.Complete, 0, 1L), (r.Status, r.TablesFreed, r.EntriesChanged));
        Assert.Equal(Pt | Link, Read(Pd, I(Va, 2)));
        Assert.Equal(new FlushRange(Va, Va + 4096), flush.Ranges[0]);
        Write(Pt, I(Va, 1), Frame | Leaf);
        space.Unmap(Va, PageSize.Size4K);
        Assert.Equal(Pt | Link, Read(Pd, I(Va, 2)));
        space.Dispose();
        Assert.Equal(0, source.TablesInUse);
        before[(int)(Pt / 8) + I(Va, 1)] = 0; // the one entry the zap and unmap cleared
        Assert.Equal(before, Everything());
    }

    [Fact]
    public void ARangeWalkStopsAtALinkOutsideGuestMemoryWithNothingHalfDone()
    {
        // PD entries 0 and 2 lead to full PTs in guest RAM; entry 1 links into the hole.
        const ulong pt0 = Low + 0x4000, pt2 = Low + 0x5000, hole = 0x9000_0000;
        Write(Pml4, 1, Pdpt | Link);
        Write(Pdpt, 0, Pd | Link);
        Write(Pd, 0, pt0 | Link);
        Write(Pd, 1, hole | Link);
        Write(Pd, 2, pt2 | Link);
        for (int i = 0; i < 512; i++)
        {
            Write(pt0, i, Frame + (ulong)i * 4096 | Leaf);
            Write(pt2, i, Frame + (ulong)i * 4096 | Leaf);
        }
        const ulong start = 1UL << 39;
        using var space = AddressSpace.Attach(new GuestMemoryTableSource(Map), Pml4);
        var flush = new FlushPlan();
        var wp = ChangeProtectionParams.Mprotect(PgProt.ReadOnly, writable: false, shared: true);
        var r = PageTableOps.ChangeProtection(space, start, start + 0x60_0000, wp, flush);
        Assert.Equal((WalkStatus.OutsideGuestMemory, start + 0x20_0000, 512L), (r.Status, r.WalkEnd, r.EntriesChanged));
        Assert.Equal([new FlushRange(start, start + 0x20_0000)], flush.Ranges.ToArray());
        for (int i = 0; i < 512; i++)
        {
            Assert.Equal(0UL, Read(pt0, i) & Pte.Writable);        // done before the stop
            Assert.Equal(Pte.Writable, Read(pt2, i) & Pte.Writable); // untouched after it
        }
        // Resuming past the entry that covers WalkEnd finishes the rest.
        flush.Clear();
        r = PageTableOps.ChangeProtection(space, start + 0x40_0000, start + 0x60_0000, wp, flush);
        Assert.Equal((WalkStatus.Complete, 512L), (r.Status, r.EntriesChanged));
        Assert.Equal(0UL, Read(pt2, 7) & Pte.Writable);
    }

    [Fact]
    public void AParallelWalkStopsAtTheSameLink()
    {
        // 2 MiB leaves over 128 MiB; the PD entry at 100 MiB links into the hole.
        const ulong start = 1UL << 39, bad = start + (100UL << 20);
        Write(Pml4, 1, Pdpt | Link);
        Write(Pdpt, 0, Pd | Link);
        for (int i = 0; i < 64; i++)
            Write(Pd, i, (ulong)i << 21 | Leaf | Pte.PageSize);
        Write(Pd, I(bad, 2), 0x9000_0000 | Link);
        using var space = AddressSpace.Attach(new GuestMemoryTableSource(Map), Pml4);
        var flush = new FlushPlan();
        var wp = ChangeProtectionParams.Mprotect(PgProt.ReadOnly, writable: false, shared: true);
        var r = PageTableOps.ChangeProtection(space, start, start + (128UL << 20), wp, flush, new WalkOptions { Parallelism = 2 });
        Assert.Equal((WalkStatus.OutsideGuestMemory, bad), (r.Status, r.WalkEnd));
        Assert.Equal([new FlushRange(start, bad)], flush.Ranges.ToArray());
        Assert.Equal(0UL, Read(Pd, 49) & Pte.Writable);
        Assert.Equal(Pte.Writable, Read(Pd, 51) & Pte.Writable);
    }

    [Fact]
    public void WithoutAPoolAWalkThatNeedsTablesStopsAndChangesNothing()
    {
        BuildGuestTables();
        using var space = AddressSpace.Attach(new GuestMemoryTableSource(Map), Pml4);
        ulong[] before = Everything();
        var flush = new FlushPlan();
        var r = PageTableOps.ChangeProtection(space, 0x10_0000_0000, 0x10_0020_0000, ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true), flush);
        Assert.Equal((WalkStatus.OutOfTables, 0x10_0000_0000UL, 0), (r.Status, r.WalkEnd, flush.Count));
        Assert.Equal(before, Everything());
    }

    [Fact]
    public void WithoutOneGigabytePagesPsInAPdpteIsReserved()
    {
        Write(Pml4, 2, Pdpt | Link);
        Write(Pdpt, 0, 0x4000_0000 | Leaf | Pte.PageSize);
        using var space = AddressSpace.Attach(new GuestMemoryTableSource(Map), Pml4);
        var va = 2UL << 39;
        Assert.True(space.Translate(va, AccessType.Read, CpuMode.UserMode).Success);
        var r = space.Translate(va, AccessType.Read, CpuMode.UserMode with { Pages1G = false });
        Assert.Equal((PageFaultError.Present | PageFaultError.User | PageFaultError.Reserved, 3), (r.ErrorCode, r.FaultLevel));
    }

    [Fact]
    public void CpuModeFromTheGuestsRegisters()
    {
        var m = CpuMode.FromRegisters(cr0: 0x8001_0033, cr4: CpuMode.Cr4Smep | CpuMode.Cr4Smap | 0x20, efer: 0xD01, rflags: 0x4_0202, cpl: 0, pkru: 0x5, amd: true);
        Assert.Equal(new CpuMode(User: false, WriteProtect: true, Nxe: true, Smep: true, Smap: true, AlignmentCheck: true, Pkru: 5, NonLeafBit8Reserved: true), m);
        Assert.True(CpuMode.FromRegisters(0, 0, 0, 0, cpl: 3).User);
        Assert.False(CpuMode.FromRegisters(0, 0, 0, 0, cpl: 2).User); // CPL 1 and 2 are supervisor for paging
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuMode.FromRegisters(0, 0, 0, 0, cpl: 4));
    }
}
