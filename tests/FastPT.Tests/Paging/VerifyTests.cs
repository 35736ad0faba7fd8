using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Paging;

/// <summary>
/// <see cref="AddressSpace.Verify"/>: sound tables pass; each kind of damage is named with where
/// it is; guest-written garbage is reported, never followed out of the table memory.
/// </summary>
public unsafe class VerifyTests
{
    private const ulong Va = 0x40_0000_0000;

    private static AddressSpace Build(NativeTableSource tables)
    {
        var s = new AddressSpace(tables);
        s.Map(Va, 0x1000, PageSize.Size4K, PgProt.Shared);
        s.Map(Va + (1UL << 21), 1UL << 21, PageSize.Size2M, PgProt.Shared);
        s.Map(Va + (1UL << 30), 1UL << 30, PageSize.Size1G, PgProt.Shared);
        s.Entry(Va + 0x1000, 1) = PteMarker.UffdWp;
        s.Entry(Va + 0x2000, 1) = SwapEntry.Make(5, 0x77);
        return s;
    }

    [Fact]
    public void SoundTablesPass()
    {
        using var tables = new NativeTableSource();
        using var s = Build(tables);
        var v = s.Verify();
        Assert.True(v.IsValid, v.ToString());
        Assert.Equal(4, v.TablesReachable); // root, PDPT, PD, PT
        Assert.Equal(4, v.TablesInUse);
        v.ThrowIfInvalid();
        Assert.StartsWith("page tables sound", v.ToString(), StringComparison.Ordinal);
    }

    public static TheoryData<string> Damages() =>
        ["linked twice", "outside the source", "PS at level 4", "reserved bits in a 2 MiB leaf", "garbage at level 4", "leaked", "freed while linked", "PROT_NONE without PS"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void EachDamageIsReported(string damage)
    {
        using var tables = new NativeTableSource();
        var s = Build(tables);
        ulong* pd = s.TryGetEntry(Va, 2);
        string expect;
        switch (damage)
        {
            case "linked twice":
                pd[5] = pd[0]; // a second pmd pointing at the same PTE table
                expect = "already linked elsewhere";
                break;
            case "outside the source":
                pd[5] = 0x1234_5000 | PgProt.Table;
                expect = "not a table of the source";
                break;
            case "PS at level 4":
                s.RootTable[9] = 0x4000_0000 | Pte.PageSize | PgProt.Shared;
                expect = "PS is reserved at level 4";
                break;
            case "reserved bits in a 2 MiB leaf":
                pd[1] |= 1UL << 15;
                expect = "reserved bits 13..20";
                break;
            case "garbage at level 4":
                s.RootTable[9] = PteMarker.UffdWp;
                expect = "not empty and not present";
                break;
            case "leaked":
                Assert.True(tables.TryAllocate(out _));
                expect = "1 leaked";
                break;
            case "PROT_NONE without PS":
                pd[7] = L1tf.PfnEntry(0x777, PgProt.None);
                expect = "PROT_NONE without PS";
                break;
            default: // freed while linked
                tables.Free(pd[0] & Pte.PfnMask);
                Assert.True(tables.TryAllocate(out _)); // the source hands it out again... and it still counts once
                tables.Free(pd[0] & Pte.PfnMask);
                expect = "a linked table was freed";
                break;
        }
        var v = s.Verify();
        Assert.False(v.IsValid);
        Assert.Contains(v.Problems, p => p.Contains(expect, StringComparison.Ordinal));
        var e = Assert.Throws<InvalidOperationException>(v.ThrowIfInvalid);
        Assert.Contains(expect, e.Message, StringComparison.Ordinal);
        // Damaged tables are not disposed through the walk (it would free twice); the source frees its memory.
    }

    [Fact]
    public void ALinkCycleIsReportedNotFollowed()
    {
        using var tables = new NativeTableSource();
        var s = Build(tables);
        ulong* pdpt = s.TryGetEntry(Va, 3);
        pdpt[7] = s.Root | PgProt.Table; // a pud linking the root: a cycle
        var v = s.Verify();
        Assert.Contains(v.Problems, p => p.Contains("already linked elsewhere (or is an ancestor)", StringComparison.Ordinal));
    }

    [Fact]
    public void GuestWrittenGarbageIsReportedWithoutLeavingTheTableMemory()
    {
        // Every entry of every table random: Verify must report, not crash or read foreign memory.
        var r = new Random(5);
        for (int round = 0; round < 50; round++)
        {
            using var g = new GuestSpace(levels: 4 + round % 2, tables: 8);
            var mem = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(g.Memory);
            for (int i = 0; i < mem.Length; i++)
            {
                ulong e = (ulong)r.NextInt64();
                // Some links back into the table memory, so the walk goes deep and meets cycles.
                mem[i] = r.Next(3) == 0 ? (GuestSpace.GuestBase + (ulong)r.Next(8) * 4096) | (e & 0xFFF & ~Pte.PageSize) | Pte.Present : e;
            }
            var v = g.Space.Verify(sourceIsShared: true);
            Assert.False(v.IsValid);
            Assert.True(v.Problems.Count <= 100);
        }
    }
    [Fact]
    public void EachProblemLineSaysWhichEntryOfWhichTableAndWhatItHolds()
    {
        using var tables = new NativeTableSource();
        var s = Build(tables);
        ulong* pd = s.TryGetEntry(Va, 2);
        ulong pdPa = s.TryGetEntry(Va, 3)[0] & Pte.PfnMask;
        pd[5] = pd[0];
        pd[1] |= 1UL << 15;
        ulong* pdpt = s.TryGetEntry(Va, 3);
        pdpt[1] |= 1UL << 25; // the 1 GiB leaf
        var v = s.Verify();
        Assert.Equal(
        [
            $"level-2 entry 1 of table 0x{pdPa:X} (va 0x{Va + (1UL << 21):X}) = 0x{pd[1]:X}: reserved bits 13..20 set in a 2 MiB leaf",
            $"level-2 entry 5 of table 0x{pdPa:X} (va 0x{Va + (5UL << 21):X}) = 0x{pd[5]:X}: links table 0x{pd[0] & Pte.PfnMask:X}, which is already linked elsewhere (or is an ancestor)",
            $"level-3 entry 257 of table 0x{s.RootTable[0] & Pte.PfnMask:X} (va 0x{Va + (1UL << 30):X}) = 0x{pdpt[1]:X}: reserved bits 13..29 set in a 1 GiB leaf",
        ], v.Problems);
        Assert.Equal((4L, 4L), (v.TablesReachable, v.TablesInUse));
        Assert.Equal($"page tables broken (3 problems; 4 tables reachable, 4 in use):\n  {string.Join("\n  ", v.Problems)}", v.ToString());
    }

    [Theory]
    [InlineData(4, 300, 0xFFFF_9600_0000_0000, "p4d")]
    [InlineData(5, 300, 0xFF2C_0000_0000_0000, "pgd")]
    [InlineData(5, 3, 0x0003_0000_0000_0000, "pgd")]
    public void TopLevelGarbageIsNamedForItsLevelAtItsCanonicalAddress(int levels, int index, ulong va, string name)
    {
        using var tables = new NativeTableSource();
        using var s = new AddressSpace(tables, levels);
        s.RootTable[index] = PteMarker.UffdWp;
        var v = s.Verify();
        Assert.Equal($"level-{levels} entry {index} of table 0x{s.Root:X} (va 0x{va:X}) = 0x{PteMarker.UffdWp:X}: not empty and not present (Linux's {name}_bad; walks skip it)",
            Assert.Single(v.Problems));
        Assert.Equal($"page tables broken (1 problem; 1 tables reachable, 1 in use):\n  {v.Problems[0]}", v.ToString());
        s.RootTable[index] = 0;
        Assert.True(s.Verify().IsValid);
    }

    [Fact]
    public void TheReportStopsAtAHundredProblems()
    {
        using var tables = new NativeTableSource();
        using var s = new AddressSpace(tables);
        for (int i = 0; i < 150; i++)
            s.RootTable[i] = PteMarker.UffdWp;
        Assert.True(tables.TryAllocate(out _)); // a leak, which would be problem 151
        var v = s.Verify();
        Assert.Equal(100, v.Problems.Count);
        Assert.EndsWith("entry 99 of table", v.Problems[99][..("level-4 entry 99 of table".Length)], StringComparison.Ordinal);
        Assert.DoesNotContain(v.Problems, p => p.Contains("leaked", StringComparison.Ordinal));
        for (int i = 1; i < 150; i++)
            s.RootTable[i] = 0;
        Assert.Equal(2, s.Verify().Problems.Count); // below the cap, the count comparison is reported again
        s.RootTable[0] = 0;
    }

    [Fact]
    public void ASharedSourceSkipsOnlyTheCountComparison()
    {
        using var tables = new NativeTableSource();
        using var a = Build(tables);
        using var b = new AddressSpace(tables);
        b.Map(Va, 0x1000, PageSize.Size4K, PgProt.Shared);
        var alone = a.Verify();
        Assert.Equal($"4 tables are reachable but the source has 8 in use: 4 leaked (allocated, never linked or unlinked without being freed)", Assert.Single(alone.Problems));
        var shared = a.Verify(sourceIsShared: true);
        Assert.True(shared.IsValid, shared.ToString());
        Assert.Equal((4L, 8L), (shared.TablesReachable, shared.TablesInUse));
        Assert.Equal("page tables sound: 4 tables reachable, 8 in use", shared.ToString());
        a.RootTable[9] = PteMarker.UffdWp;
        Assert.Single(a.Verify(sourceIsShared: true).Problems); // a damaged entry is still found
        a.RootTable[9] = 0;
    }

    [Fact]
    public void AFreedLinkedTableIsCountedAsSuch()
    {
        using var tables = new NativeTableSource();
        var s = Build(tables);
        tables.Free(s.TryGetEntry(Va, 2)[0] & Pte.PfnMask);
        Assert.Equal("4 tables are reachable but the source has only 3 in use: a linked table was freed", Assert.Single(s.Verify().Problems));
    }

    [Fact]
    public void ARootNoLongerInGuestMemoryIsReportedNotRead()
    {
        byte* host = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(0x4000, 4096);
        try
        {
            new Span<byte>(host, 0x4000).Clear();
            var map = new GuestMemoryMap();
            map.Add(0x10_0000, 0x4000, host);
            var space = AddressSpace.Attach(new GuestMemoryTableSource(map), 0x10_1000);
            Assert.True(space.Verify(sourceIsShared: true).IsValid);
            Assert.True(map.Remove(0x10_0000)); // the guest's RAM is unplugged under its page tables
            var v = space.Verify(sourceIsShared: true);
            Assert.Equal("the root 0x101000 is not a table of the source", Assert.Single(v.Problems));
            Assert.Equal(1, v.TablesReachable);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(host);
        }
    }
}
