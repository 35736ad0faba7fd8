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
}
