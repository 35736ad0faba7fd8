using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Entries;
using FastPT.Tests.Kernels;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>
/// The shipped scan (<see cref="PageTableOps.Scan"/>: walker, vector kernels, run building,
/// output rules) against <see cref="ScanReference"/> on random tables: 4 KiB tables of every
/// entry kind, 2 MiB and 1 GiB leaves (written, protected, huge zero, swap-format), holes at
/// every level, random requests (filters, return mask, max pages, WP_MATCHING), contexts and
/// buffer sizes, for every ISA. Regions, pages found, walk_end, status and every entry
/// afterwards must agree, and the flush plan must cover every entry the scan changed in a way
/// pte_needs_flush says a TLB may hold. Each failure names its seed (FASTPT_TEST_SEED).
/// </summary>
public unsafe class ScanPropertyTests
{
    private const ulong Base = 0x40_0000_0000; // 256 GiB: the window crosses 1 GiB boundaries
    private const ulong Window = 3UL << 30;
    private const ulong HugeZeroPfn = 0x40_0000;

    [Fact]
    public void TheScanMatchesThePagePerPageReference()
    {
        int rounds = (int)PropertyRuns.Iter(40);
        foreach (var isa in KernelTestData.Isas)
        {
            for (int k = 0; k < rounds; k++)
            {
                int seed = KernelTestData.Seed * 1000 + k;
                Check(seed, isa);
            }
        }
    }

    /// <summary>
    /// The scan users run most (mask=written, return=written, WP_MATCHING) on tables as faults
    /// populate them, written pages scattered or in runs that cross 64-entry words and tables:
    /// the populated-word kernel path and the branch-free region output.
    /// </summary>
    [Fact]
    public void TheWrittenScanOfPopulatedTablesMatchesTheReference()
    {
        int rounds = (int)PropertyRuns.Iter(24);
        foreach (var isa in KernelTestData.Isas)
        {
            for (int k = 0; k < rounds; k++)
                Check(KernelTestData.Seed * 1000 + 500 + k, isa, populated: true);
        }
    }

    private static void Check(int seed, KernelIsa isa, bool populated = false)
    {
        var r = new Random(seed);
        using var fastTables = new NativeTableSource();
        using var refTables = new NativeTableSource();
        using var fast = new AddressSpace(fastTables);
        using var reference = new AddressSpace(refTables);
        var recipe = populated ? PopulatedRecipe(r) : Recipe(r);
        Build(fast, recipe);
        Build(reference, recipe);

        ulong start = Base + ((ulong)r.NextInt64(0, (long)(Window >> 12) - 1) << 12);
        long maxPages = r.Next(20) switch { < 10 => 2048, < 17 => 16384, _ => (long)((Base + Window - start) >> 12) };
        ulong end = Math.Min(Base + Window, start + ((ulong)r.NextInt64(1, maxPages + 1) << 12));
        var request = populated
            ? new PagemapScanRequest(Mask: PageCategories.Written, Return: PageCategories.Written, MaxPages: r.Next(4) == 0 ? r.Next(1, 3000) : 0, WriteProtectMatching: r.Next(4) != 0)
            : new PagemapScanRequest(
                Mask: RandomCats(r, 3), AnyOf: RandomCats(r, 5), Inverted: RandomCats(r, 6), Return: r.Next(3) == 0 ? RandomCats(r, 1) : PageCategories.All,
                MaxPages: r.Next(4) == 0 ? r.Next(1, 3000) : 0, WriteProtectMatching: r.Next(2) == 0);
        var context = populated
            ? new ScanContext(PageCategories.WpAllowed, EmptyIsWritten: true, HoleIsWritten: r.Next(2) == 0, ZeroPfn: KernelTestData.ZeroPfn, HugeZeroPfn: HugeZeroPfn)
            : new ScanContext(
                VmaCategories: r.Next(2) == 0 ? PageCategories.WpAllowed : 0,
                NormalPageCategories: r.Next(3) == 0 ? PageCategories.File : 0,
                EmptyIsWritten: r.Next(2) == 0, HoleIsWritten: r.Next(2) == 0, TrackSoftDirty: r.Next(3) == 0,
                ZeroPfn: KernelTestData.ZeroPfn, HugeZeroPfn: HugeZeroPfn);
        int capacity = populated
            ? r.Next(4) switch { 0 => 1 + r.Next(4), 1 => 1 + r.Next(300), _ => 20000 }
            : r.Next(4) switch { 0 => 0, 1 => 1 + r.Next(4), 2 => 1 + r.Next(100), _ => 20000 };

        var regions = new PageRegion[capacity];
        var flush = new FlushPlan();
        var before = Snapshot(fast, start, end);
        var got = ScanWith(isa, fast, start, end, request, regions, flush, context);
        var want = ScanReference.Scan(reference, start, end, request, context, capacity);

        string what = $"seed {seed} {isa}: [0x{start:X}, 0x{end:X}) {request} capacity {capacity} {context}";
        Assert.True(got.Status != WalkStatus.OutOfTables, what);
        Assert.True(capacity == 0 || want.Regions.SequenceEqual(regions[..got.RegionCount]),
            $"{what}\n want {string.Join(" ", want.Regions)}\n got  {string.Join(" ", regions[..got.RegionCount])}");
        Assert.True(capacity == 0 || want.Found == got.PagesFound, $"{what}: found {got.PagesFound}, want {want.Found}");
        Assert.True(want.WalkEnd == got.WalkEnd, $"{what}: walk_end 0x{got.WalkEnd:X}, want 0x{want.WalkEnd:X}");
        Assert.Equal(want.Stopped ? WalkStatus.Stopped : WalkStatus.Complete, got.Status);
        var after = Snapshot(fast, start, end);
        Assert.Equal(Snapshot(reference, start, end), after);
        // Every page whose translation a TLB may still hold is in the plan.
        foreach (var (va, old) in before)
        {
            if (after.TryGetValue(va, out var now) && (FlushRules.NeedsFlush(old.Value, now.Value) || old.Level != now.Level && (old.Value & Pte.Present) != 0) && !Covers(flush, va))
                Assert.Fail($"{what}: 0x{va:X} changed 0x{old.Value:X} (level {old.Level}) -> 0x{now.Value:X} (level {now.Level}) but the flush plan {flush} misses it");
        }
    }

    private static PagemapScanResult ScanWith(KernelIsa isa, AddressSpace space, ulong start, ulong end, in PagemapScanRequest request,
        PageRegion[] regions, FlushPlan flush, in ScanContext context)
    {
        if (isa == KernelIsas.Selected)
            return PageTableOps.Scan(space, start, end, request, regions, flush, context); // the public verb itself
        fixed (PageRegion* r = regions)
        {
            var output = new ScanOutput(r, regions.Length, request.MaxPages);
            var op = new ScanOp(space, &output, context.Params(request), context.HoleIsWritten, context.HugeZeroPfn ?? ScanParams.NoPfn, flush, isa: isa);
            var w = RangeWalker.Walk(space, start, end, ref op, flush);
            return PageTableOps.Result(w, op, output);
        }
    }

    private static bool Covers(FlushPlan plan, ulong va)
    {
        foreach (var range in plan.Ranges)
            if (range.Start <= va && va < range.End)
                return true;
        return false;
    }

    private static PageCategories RandomCats(Random r, int oneIn) =>
        r.Next(oneIn) != 0 ? 0 : (PageCategories)(1UL << r.Next(9)) | (r.Next(3) == 0 ? (PageCategories)(1UL << r.Next(9)) : 0);

    /// <summary>What each 2 MiB extent of the window holds: a hole, a 2 MiB leaf, a PTE table (1: any entries, 4: populated), or (per GiB) a 1 GiB leaf.</summary>
    private sealed record Extent(int Kind, ulong Leaf, int FillSeed);

    private static Dictionary<ulong, Extent> Recipe(Random r)
    {
        var recipe = new Dictionary<ulong, Extent>();
        for (ulong gib = Base; gib < Base + Window; gib += 1UL << 30)
        {
            if (r.Next(8) == 0)
            {
                recipe[gib] = new Extent(3, HugeLeaf(r, 3, gib), 0);
                continue;
            }
            if (r.Next(6) == 0)
                continue; // a whole GiB without tables
            for (ulong va = gib; va < gib + (1UL << 30); va += 1UL << 21)
            {
                int kind = r.Next(10) switch { < 3 => 0, < 5 => 2, _ => 1 };
                if (kind == 0)
                    continue;
                recipe[va] = new Extent(kind, kind == 2 ? HugeLeaf(r, 2, va) : 0, r.Next());
            }
        }
        return recipe;
    }

    /// <summary>Mostly populated PTE tables (kind 4), some holes, now and then a table of any entries or a huge leaf.</summary>
    private static Dictionary<ulong, Extent> PopulatedRecipe(Random r)
    {
        var recipe = new Dictionary<ulong, Extent>();
        for (ulong va = Base; va < Base + Window; va += 1UL << 21)
        {
            int kind = r.Next(40) switch { 0 => 1, 1 => 2, < 6 => 0, _ => 4 };
            if (kind != 0)
                recipe[va] = new Extent(kind, kind == 2 ? HugeLeaf(r, 2, va) : 0, r.Next());
        }
        return recipe;
    }

    /// <summary>
    /// A table as faults leave it: every entry present, written (RW, D, bit 10 clear) or
    /// protected; written pages scattered at one density, or in runs of any length; rarely an
    /// entry of another kind in between.
    /// </summary>
    private static void FillPopulated(Random r, Span<ulong> table)
    {
        double density = r.Next(5) switch { 0 => 0, 1 => 0.02, 2 => 0.1, 3 => 0.5, _ => 0.95 };
        bool runs = r.Next(2) == 0;
        bool odd = r.Next(4) == 0;
        bool written = r.Next(2) == 0;
        for (int i = 0; i < table.Length; i++)
        {
            written = runs ? written ^ (r.Next(24) == 0) : r.NextDouble() < density;
            ulong e = (0x2_0000_0000UL + ((ulong)r.Next(1 << 20) << 12)) | Pte.Present | Pte.User | Pte.Accessed | Pte.SoftDirty | Pte.NoExecute;
            table[i] = odd && r.Next(200) == 0 ? KernelTestData.Entry(r) : written ? e | Pte.Writable | Pte.Dirty : e | Pte.UffdWp;
        }
    }

    private static ulong HugeLeaf(Random r, int level, ulong va)
    {
        ulong frame = level == 2 ? (0x1_0000_0000UL + (va - Base)) & Pte.Pfn2MMask : (0x100_0000_0000UL + (va - Base)) & Pte.Pfn1GMask;
        ulong leaf = frame | PgProt.Shared | Pte.PageSize | Pte.Dirty;
        return r.Next(7) switch
        {
            0 => LinuxPte.MkUffdWp(leaf),                                         // protected
            1 when level == 2 => (HugeZeroPfn << 12) | PgProt.ReadOnly | Pte.PageSize | Pte.Special, // the huge zero page
            2 => PteMarker.UffdWp,                                                 // a huge marker (hugetlb-style)
            3 => L1tf.PfnEntry(frame >> 12, PgProt.None) | Pte.PageSize,            // PROT_NONE, frame inverted
            4 => leaf | Pte.SoftDirty,
            _ => leaf,                                                            // written
        };
    }

    private static void Build(AddressSpace space, Dictionary<ulong, Extent> recipe)
    {
        foreach (var (va, x) in recipe)
        {
            if (x.Kind == 3 || x.Kind == 2)
            {
                int level = x.Kind == 3 ? 3 : 2;
                *EnsureSlot(space, va, level) = x.Leaf;
                continue;
            }
            ulong* table = EnsureSlot(space, va, 1);
            var r = new Random(x.FillSeed);
            if (x.Kind == 4)
            {
                FillPopulated(r, new Span<ulong>(table, 512));
                continue;
            }
            KernelTestData.Fill(r, new Span<ulong>(table, 512));
            if (r.Next(4) == 0)
                new Span<ulong>(table, 512).Clear(); // an empty table: none PTEs, not a hole
        }
    }

    private static ulong* EnsureSlot(AddressSpace space, ulong va, int level)
    {
        ulong* table = space.RootTable;
        for (int l = space.Levels; l > level; l--)
        {
            ulong* slot = table + AddressSpace.Index(va, l);
            if (LinuxPte.IsNone(*slot))
            {
                Assert.True(space.Tables.TryAllocate(out ulong fresh));
                *slot = fresh | PgProt.Table;
            }
            table = space.Table(*slot & Pte.PfnMask);
        }
        return table + AddressSpace.Index(va, level);
    }

    /// <summary>Every 4 KiB page around the range with a leaf: its level and value (a huge leaf's value for each of its pages).</summary>
    private static Dictionary<ulong, (int Level, ulong Value)> Snapshot(AddressSpace space, ulong start, ulong end)
    {
        var pages = new Dictionary<ulong, (int, ulong)>();
        ulong from = Math.Max(Base, start - (1UL << 21)) & ~((1UL << 21) - 1);
        ulong to = Math.Min(Base + Window, end + (2UL << 21)) & ~((1UL << 21) - 1);
        for (ulong va = from; va < to; va += 4096)
        {
            ulong* slot = space.FindLeaf(va, out int level);
            if (*slot != 0)
                pages[va] = (level, *slot);
        }
        return pages;
    }
}
