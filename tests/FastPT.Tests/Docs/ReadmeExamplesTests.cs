using System.Runtime.InteropServices;
using FastPT.Entries;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tlb;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Docs;

/// <summary>
/// The README's VMM and emulator examples, run as written: each test below is its README block
/// with checks (Assert statements) between the statements, and <see cref="ReadmeBlocksAreTheseTests"/>
/// fails when a block and its test drift apart.
/// </summary>
public sealed unsafe class ReadmeExamplesTests
{
    [Fact]
    public void VmmExample()
    {
        // A VMM's stage-2 (EPT-like) tables: guest-physical -> host-physical.
        using var tables = new NativeTableSource();
        using var ept = new AddressSpace(tables);
        for (ulong gpa = 0; gpa < 0x20_0000; gpa += 4096)
            ept.Map(gpa, 0x8000_0000 + gpa, PageSize.Size4K, PgProt.Shared);
        ept.Map(0x20_0000, 0x8020_0000, PageSize.Size2M, PgProt.Shared);

        // Slot 0 is guest-physical [0, 4 MiB); shared mode: vCPUs may run meanwhile.
        var log = new DirtyLog(ept, new WalkOptions { SharedTables = true });
        var flush = new FlushPlan();
        log.AddSlot(0, 0, 0x40_0000, flush);

        ept.Translate(0x5123, AccessType.Write, new CpuMode(User: true));      // a vCPU writes: D set
        ept.Translate(0x30_0000, AccessType.Write, new CpuMode(User: true));   // in the 2 MiB leaf

        var bitmap = new ulong[log.Pages(0) / 64];   // KVM's format: bit k = page k of the slot
        log.Get(0, bitmap, flush);                   // KVM_GET_DIRTY_LOG (ORs into bitmap)
        Assert.Equal(1UL << 5, bitmap[0]);
        Assert.All(bitmap[8..16], w => Assert.Equal(ulong.MaxValue, w));   // every page of the 2 MiB leaf
        Assert.Equal(1 + 512, bitmap.Sum(w => System.Numerics.BitOperations.PopCount(w)));
        log.Clear(0, 0, bitmap, flush);              // KVM_CLEAR_DIRTY_LOG: re-arm, then copy those pages
        // Execute flush.Ranges (INVEPT, the vCPUs' TLBs) before relying on the log again.
        Assert.Equal([new FlushRange(0x5000, 0x6000), new FlushRange(0x20_0000, 0x40_0000)], flush.Ranges.ToArray());
        Assert.All(GetAgain(log, flush), w => Assert.Equal(0UL, w));
    }

    private static ulong[] GetAgain(DirtyLog log, FlushPlan flush)
    {
        var bitmap = new ulong[log.Pages(0) / 64];
        log.Get(0, bitmap, flush);
        return bitmap;
    }

    [Fact]
    public void EmulatorExample()
    {
        // Guest RAM: two regions with a hole between them, as a PC has.
        byte* low = (byte*)NativeMemory.AlignedAlloc(16 << 20, 4096);
        byte* high = (byte*)NativeMemory.AlignedAlloc(16 << 20, 4096);
        NativeMemory.Clear(low, 16 << 20);
        var ram = new GuestMemoryMap();
        ram.Add(0, 16 << 20, low);
        ram.Add(0x1_0000_0000, 16 << 20, high);

        // The guest's kernel builds its tables in its RAM (done here with FastPT, tables at 1 MiB).
        var guest = new AddressSpace(new GuestMemoryTableSource(ram, poolGuestPhysical: 0x10_0000, poolSize: 0x10_0000));
        guest.Map(0x7000_0000, 0x1_0000_0000, PageSize.Size4K, PgProt.Shared);

        // The emulator attaches to the guest's CR3 and translates through a software TLB.
        var mmu = AddressSpace.Attach(new GuestMemoryTableSource(ram), guest.Root);
        var tlb = new SoftwareTlb(mmu, new CpuMode(User: true));
        var t = tlb.Translate(0x7000_0123, AccessType.Write);   // a walk: fills the TLB, sets A/D in the guest's PTE
        Assert.True(t.Success);
        Assert.Equal(0x1_0000_0123UL, t.PhysicalAddress);
        Assert.NotEqual(0UL, mmu.Entry(0x7000_0000, 1) & Pte.Dirty);
        t = tlb.Translate(0x7000_0456, AccessType.Write);       // a hit: no walk
        Assert.Equal(0x1_0000_0456UL, t.PhysicalAddress);
        mmu.Entry(0x7000_0000, 1) = 0;                          // the guest unmaps the page...
        Assert.True(tlb.Translate(0x7000_0456, AccessType.Write).Success);   // ...the TLB still holds it, as a CPU's would
        tlb.InvalidatePage(0x7000_0000);                        // the guest's INVLPG (engine verbs: tlb.Invalidate(flushPlan))
        t = tlb.Translate(0x7000_0456, AccessType.Write);       // a walk again: #PF, error code in t
        Assert.False(t.Success);

        mmu.Dispose();                                          // the spaces go before the RAM they live in
        guest.Dispose();
        NativeMemory.AlignedFree(low);
        NativeMemory.AlignedFree(high);
    }

    [Theory]
    [InlineData("The VMM example", nameof(VmmExample))]
    [InlineData("The emulator example", nameof(EmulatorExample))]
    public void ReadmeBlocksAreTheseTests(string marker, string method)
    {
        string source = File.ReadAllText(Path.Combine(ReadmeTour.Root, "tests", "FastPT.Tests", "Docs", "ReadmeExamplesTests.cs"));
        var file = ReadmeTour.Statements(source);
        var body = ReadmeTour.Statements(ReadmeTour.MethodBody(source, method));
        var readme = ReadmeTour.Statements(ReadmeTour.Block("<!-- " + marker + ":"));
        string[] missing = [.. readme.Where(ReadmeTour.IsUsingDirective).Except(file.Where(ReadmeTour.IsUsingDirective))];
        Assert.True(missing.Length == 0, $"ReadmeExamplesTests.cs lacks the README {marker}'s {string.Join(", ", missing)}");
        string? difference = ReadmeTour.FirstDifference(
            [.. readme.Where(s => !ReadmeTour.IsUsingDirective(s))],
            [.. body.Where(s => !s.StartsWith("Assert.", StringComparison.Ordinal))]);
        Assert.True(difference == null,
            $"{method}, less its Assert statements, is not the README's {marker}: {difference}. Make its statements the README block's (comments and layout may differ).");
    }
}
