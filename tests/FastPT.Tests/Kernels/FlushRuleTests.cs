using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Kernels;

/// <summary>
/// Every flush rule (Linux's pte_needs_flush), on clean and dirty entries, by hand: bit by bit
/// for the rule itself, then per kernel and verb (zap, written-page scan with WP_MATCHING,
/// A/D harvest) on clean and dirty pages, every ISA, both write modes, and the walker's verb.
/// Change protection's cases are the golden vectors (Data/change-protection.golden.txt).
/// </summary>
public unsafe class FlushRuleTests
{
    private const ulong Clean = 0x8000_0000_1234_5027; // P|RW|US|A, NX
    private const ulong Dirty = Clean | Pte.Dirty;

    /// <summary>Does flipping bit b of a present entry need a flush? Written out from pte_needs_flush, not from FlushRules.</summary>
    private static bool FlipNeedsFlush(int b, bool oldHasBit) => b switch
    {
        0 => oldHasBit,                 // P: flush when cleared
        5 => false,                     // A: ignored (ptep_clear_flush_young's reasoning)
        6 => oldHasBit,                 // D: flush when cleared, not when set
        9 or 10 or 11 or 57 or 58 => false, // software bits: special, uffd-wp, soft-dirty, devmap, saved-dirty
        _ => true,                      // RW US PWT PCD PS/PAT G, the PFN (12..51), 52..56 (unknown: flush to be safe), PKEY, NX
    };

    [Fact]
    public void EveryBitOfACleanAndADirtyPresentEntry()
    {
        foreach (ulong old in new[] { Clean, Dirty, Clean & ~Pte.Writable, Dirty | Pte.UffdWp | Pte.SoftDirty | Pte.Special })
            for (int b = 0; b < 64; b++)
            {
                ulong n = old ^ (1UL << b);
                bool want = FlipNeedsFlush(b, (old >> b & 1) != 0);
                Assert.True(FlushRules.NeedsFlush(old, n) == want, $"0x{old:X} -> 0x{n:X} (bit {b}): flush should be {want}");
            }
    }

    [Fact]
    public void NothingThatWasNotPresentNeedsAFlush()
    {
        ulong protNone = L1tf.PfnEntry(0x12345, PgProt.None);
        foreach (ulong old in new[] { 0UL, Pte.Accessed | Pte.Dirty, PteMarker.UffdWp, PteMarker.Guard, SwapEntry.Make(3, 77), protNone })
            foreach (ulong n in new[] { 0UL, Clean, Dirty, PteMarker.UffdWp, old ^ (1UL << 8) })
                Assert.False(FlushRules.NeedsFlush(old, n), $"0x{old:X} -> 0x{n:X} was never in a TLB");
    }

    /// <summary>One hand-written case: a verb on one old entry, its new value, whether it counts, and whether it flushes.</summary>
    public sealed record Case(string Verb, ulong Old, ulong New, bool Counted, bool Flush)
    {
        public override string ToString() => $"{Verb} 0x{Old:X}";
    }

    private static readonly ScanParams ScanWp = new() { EmptyIsWritten = false, WriteProtect = true, Mask = PageCategories.Written }; // kept = written: the count is the pages protected

    public static TheoryData<Case> Cases() =>
    [
        // Zap: every present entry (clean, dirty, PROT_NONE) may be in a TLB; nothing else is.
        new("zap", Clean, 0, true, true),
        new("zap", Dirty, 0, true, true),
        new("zap", Clean & ~Pte.Writable, 0, true, true),
        new("zap", L1tf.PfnEntry(0x12345, PgProt.None), 0, true, true),
        new("zap", PteMarker.UffdWp, 0, false, false),
        new("zap", SwapEntry.Make(3, 77), 0, false, false),
        // Scan with WP_MATCHING: a written (bit 10 clear) page is write-protected. Clearing RW
        // flushes even when the page is clean; a read-only one only gains bit 10: no flush.
        new("scan-wp", Clean, (Clean & ~Pte.Writable) | Pte.UffdWp, true, true),
        new("scan-wp", Dirty, (Clean & ~Pte.Writable) | Pte.UffdWp | Pte.SavedDirty, true, true),
        new("scan-wp", Clean & ~Pte.Writable, (Clean & ~Pte.Writable) | Pte.UffdWp, true, false),
        new("scan-wp", (Clean & ~Pte.Writable) | Pte.SavedDirty, (Clean & ~Pte.Writable) | Pte.UffdWp | Pte.SavedDirty, true, false),
        new("scan-wp", (Clean & ~Pte.Writable) | Pte.UffdWp, (Clean & ~Pte.Writable) | Pte.UffdWp, false, false),
        // Harvest: D cleared flushes (a CPU would not set it again through a cached translation); A does not.
        new("harvest-dirty", Dirty, Clean, true, true),
        new("harvest-dirty", Clean, Clean, false, false),
        new("harvest-accessed", Dirty, Dirty & ~Pte.Accessed, true, false),
        new("harvest-accessed", Clean, Clean & ~Pte.Accessed, true, false),
        new("harvest-accessed", Clean & ~Pte.Accessed, Clean & ~Pte.Accessed, false, false),
    ];

    private static long RunKernel<TMode>(string verb, KernelIsa isa, ulong* e, int count, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        Span<ulong> harvested = stackalloc ulong[8];
        ushort* categories = stackalloc ushort[count];
        return verb switch
        {
            "zap" => ZapKernels.Apply<TMode>(isa, e, count, ZapParams.Unmap, flush),
            "scan-wp" => ScanKernels.Apply<TMode>(isa, e, count, ScanWp, categories, harvested, flush),
            "harvest-dirty" => HarvestKernels.Harvest<TMode>(isa, e, count, HarvestBit.Dirty, harvested, flush),
            _ => HarvestKernels.Harvest<TMode>(isa, e, count, HarvestBit.Accessed, harvested, flush),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryKernelFlushesAsTheRuleSays(Case c)
    {
        foreach (var isa in KernelTestData.Isas)
            foreach (bool shared in new[] { false, true })
                for (int shape = 0; shape < 2; shape++)
                {
                    // Alone among empty entries (which none of these verbs changes), and a uniform run.
                    int count = shape == 0 ? 13 : 64;
                    var e = new ulong[count];
                    for (int i = 0; i < count; i++)
                        e[i] = shape == 0 && i != 5 ? 0 : c.Old;
                    var flush = new ulong[8];
                    long counted;
                    fixed (ulong* p = e)
                        counted = shared ? RunKernel<SharedTables>(c.Verb, isa, p, count, flush) : RunKernel<ExclusiveTables>(c.Verb, isa, p, count, flush);
                    int mine = shape == 0 ? 1 : count;
                    string what = $"{c} {isa} shared={shared} {(shape == 0 ? "alone" : "uniform run")}";
                    Assert.True(counted == (c.Counted ? mine : 0), $"{what}: counted {counted}");
                    for (int i = 0; i < count; i++)
                    {
                        bool isMine = shape == 1 || i == 5;
                        Assert.True(e[i] == (isMine ? c.New : 0), $"{what}: entry {i} is 0x{e[i]:X}, expected 0x{(isMine ? c.New : 0):X}");
                        bool flushed = (flush[i >> 6] >> (i & 63) & 1) != 0;
                        Assert.True(flushed == (isMine && c.Flush), $"{what}: entry {i} flush bit {flushed}, expected {isMine && c.Flush}");
                    }
                }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryVerbFlushesAsTheRuleSays(Case c)
    {
        const ulong va = 0x7F00_0020_0000;
        foreach (bool shared in new[] { false, true })
        {
            using var tables = new NativeTableSource();
            using var space = new AddressSpace(tables);
            space.Map(va, 0x1000, PageSize.Size4K, PgProt.Shared);
            space.Map(va + 4096, 0x2000, PageSize.Size4K, PgProt.Shared); // keeps the PTE table alive after a zap
            space.Entry(va, 1) = c.Old;
            var flush = new FlushPlan();
            var options = new WalkOptions { SharedTables = shared };
            WalkResult r;
            switch (c.Verb)
            {
                case "zap":
                    r = PageTableOps.Zap(space, va, va + 4096, ZapParams.Unmap, flush, options);
                    break;
                case "scan-wp":
                    var output = new ScanOutput(null, 0, 0);
                    var op = new ScanOp(space, &output, ScanWp, holeIsWritten: false, ScanParams.NoPfn, flush, shared);
                    r = RangeWalker.Walk(space, va, va + 4096, ref op, flush);
                    break;
                default:
                    r = PageTableOps.Harvest(space, va, va + 4096, new ulong[1],
                        c.Verb == "harvest-dirty" ? HarvestBit.Dirty : HarvestBit.Accessed, flush, options);
                    break;
            }
            Assert.Equal(c.New, space.Entry(va, 1));
            Assert.Equal(c.Counted ? 1 : 0, r.EntriesChanged);
            Assert.Equal(c.Flush ? [new FlushRange(va, va + 4096)] : Array.Empty<FlushRange>(), flush.Ranges.ToArray());
        }
    }
}
