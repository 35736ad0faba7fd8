using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Walk;

/// <summary>
/// Ranges across every level boundary — 2 MiB, 1 GiB, 512 GiB, and with 5-level paging 256 TiB —
/// and at the ends of both canonical halves (the top of the 48- and 57-bit user spaces, the first
/// and the last pages of the kernel half), where every table on both sides starts empty: populate
/// (markers), change protection, zap, and the parallel walker's chunks. An entry skipped at any
/// level after the first shows as a page without its marker or change.
/// </summary>
public unsafe class LevelBoundaryTests
{
    private const ulong Page = 4096;

    /// <summary>(levels, name, start, end): a few pages either side of each boundary.</summary>
    public static TheoryData<int, string, ulong, ulong> Windows()
    {
        var d = new TheoryData<int, string, ulong, ulong>();
        foreach (int levels in new[] { 4, 5 })
        {
            int bits = 12 + 9 * levels;
            ulong userLimit = 1UL << (bits - 1);
            ulong kernelStart = ~(userLimit - 1); // sign-extended first address of the upper half
            var boundaries = new List<(string, ulong)> { ("2 MiB", 1UL << 21), ("1 GiB", 1UL << 30), ("512 GiB", 1UL << 39), ("3 x 512 GiB", 3UL << 39) };
            if (levels == 5)
            {
                boundaries.Add(("256 TiB", 1UL << 48));
                boundaries.Add(("3 x 256 TiB", 3UL << 48));
            }
            foreach (var (name, b) in boundaries)
                d.Add(levels, name, b - 3 * Page, b + 3 * Page);
            d.Add(levels, "top of the user half", userLimit - 6 * Page, userLimit);
            d.Add(levels, "user half: last 1 GiB boundary", userLimit - (1UL << 30) - 3 * Page, userLimit - (1UL << 30) + 3 * Page);
            d.Add(levels, "bottom of the kernel half", kernelStart, kernelStart + 6 * Page);
            d.Add(levels, "kernel half: its first top-level boundary", kernelStart + (1UL << (bits - 9)) - 3 * Page, kernelStart + (1UL << (bits - 9)) + 3 * Page);
            d.Add(levels, "kernel half: last 1 GiB boundary", unchecked(0UL - (1UL << 30) - 3 * Page), unchecked(0UL - (1UL << 30) + 3 * Page));
            d.Add(levels, "top of the address space", unchecked(0UL - 7 * Page), unchecked(0UL - Page));
        }
        return d;
    }

    /// <summary>Tables a walk that populates [start, end) of an empty space must allocate: one per level-l table the range touches.</summary>
    private static int TablesNeeded(int levels, ulong start, ulong end)
    {
        int n = 0;
        for (int l = 1; l < levels; l++)
        {
            int shift = AddressSpace.Shift(l + 1);
            n += (int)(((end - 1) >> shift) - (start >> shift) + 1);
        }
        return n;
    }

    [Theory]
    [MemberData(nameof(Windows))]
    public void PopulateMarkersAcrossTheBoundary(int levels, string name, ulong start, ulong end)
    {
        foreach (bool shared in new[] { false, true })
        {
            using var tables = new NativeTableSource();
            using var space = new AddressSpace(tables, levels);
            var flush = new FlushPlan();
            var wp = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true);
            var r = PageTableOps.ChangeProtection(space, start, end, wp, flush, new WalkOptions { SharedTables = shared });
            string what = $"{levels}-level {name} [0x{start:X}, 0x{end:X}) shared={shared}";
            Assert.True(r.Complete, what);
            Assert.Equal((long)((end - start) / Page), r.EntriesChanged);
            Assert.True(TablesNeeded(levels, start, end) == r.TablesAllocated, $"{what}: allocated {r.TablesAllocated}");
            for (ulong va = start; va != end; va += Page)
            {
                ulong* e = space.TryGetEntry(va, 1);
                Assert.True(e != null && *e == PteMarker.UffdWp, $"{what}: no marker at 0x{va:X}");
            }
            Assert.Equal(0, flush.Count);
            space.Verify().ThrowIfInvalid();
        }
    }

    /// <summary>Maps every page of the window (4 KiB, dirty, writable): tables on both sides exist.</summary>
    private static void MapAll(AddressSpace space, ulong start, ulong end)
    {
        for (ulong va = start; va != end; va += Page)
            space.Map(va, (1UL << 40) + (va & 0xFF_FFFF_F000), PageSize.Size4K, PgProt.Shared | Pte.Dirty);
    }

    [Theory]
    [MemberData(nameof(Windows))]
    public void ChangeProtectionAndZapAcrossTheBoundary(int levels, string name, ulong start, ulong end)
    {
        foreach (bool shared in new[] { false, true })
        {
            using var tables = new NativeTableSource();
            using var space = new AddressSpace(tables, levels);
            MapAll(space, start, end);
            long pages = (long)((end - start) / Page);
            var options = new WalkOptions { SharedTables = shared };
            string what = $"{levels}-level {name} shared={shared}";

            var flush = new FlushPlan();
            var ro = ChangeProtectionParams.Mprotect(PgProt.ReadOnly, writable: false, shared: true);
            var r = PageTableOps.ChangeProtection(space, start, end, ro, flush, options);
            Assert.Equal(pages, r.EntriesChanged);
            Assert.Equal(0, r.TablesAllocated);
            for (ulong va = start; va != end; va += Page)
                Assert.True((space.Entry(va, 1) & (Pte.Writable | Pte.Dirty)) == 0, $"{what}: 0x{va:X} still writable or dirty after mprotect");
            Assert.Equal((ulong)(end - start), flush.Bytes);

            flush.Clear();
            r = PageTableOps.Zap(space, start, end, ZapParams.Unmap, flush, options);
            Assert.Equal(pages, r.EntriesChanged);
            for (ulong va = start; va != end; va += Page)
            {
                ulong* e = space.TryGetEntry(va, 1);
                Assert.True(e == null || *e == 0, $"{what}: 0x{va:X} still mapped after zap");
            }
            Assert.Equal((ulong)(end - start), flush.Bytes);
            space.Verify().ThrowIfInvalid();
        }
    }

    /// <summary>(levels, name, start, end): 64 MiB-plus ranges across boundaries, so the parallel walker cuts them into chunks.</summary>
    public static TheoryData<int, string, ulong, ulong> WideWindows()
    {
        const ulong half = 40UL << 20;
        var d = new TheoryData<int, string, ulong, ulong>();
        foreach (int levels in new[] { 4, 5 })
        {
            ulong userLimit = 1UL << (12 + 9 * levels - 1);
            d.Add(levels, "1 GiB", (1UL << 30) - half - 5 * Page, (1UL << 30) + half + 3 * Page);
            d.Add(levels, "512 GiB", (1UL << 39) - half + 7 * Page, (1UL << 39) + half);
            if (levels == 5)
                d.Add(levels, "256 TiB", (1UL << 48) - half, (1UL << 48) + half - 9 * Page);
            d.Add(levels, "top of the user half", userLimit - 2 * half, userLimit);
            d.Add(levels, "top of the address space", unchecked(0UL - 2 * half), unchecked(0UL - Page));
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(WideWindows))]
    public void ParallelChunksAcrossTheBoundaryMatchOneThread(int levels, string name, ulong start, ulong end)
    {
        // Markers into the empty range (the serial structure pass populates both sides of the
        // boundary, then the chunks fill them), then sparse pages (one per 2 MiB, plus the pages
        // either side of every 2 MiB boundary near the middle) mapped over them and
        // write-protected: the parallel walk must leave what the serial one leaves.
        using var ta = new NativeTableSource();
        using var tb = new NativeTableSource();
        using var a = new AddressSpace(ta, levels);
        using var b = new AddressSpace(tb, levels);
        string what = $"{levels}-level {name}";
        Compare(ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true));
        Assert.Equal((long)((end - start) / Page), CountMarkersAndProtected(b, start, end));
        ulong mid = start + ((end - start) / 2 & ~((1UL << 21) - 1));
        foreach (var s in new[] { a, b })
        {
            for (ulong va = start; va - start < end - start; va += 1UL << 21) // no wrap at the top of the space
                s.Map(va, 1UL << 40, PageSize.Size4K, PgProt.Shared | Pte.Dirty);
            for (ulong va = mid - (8UL << 21); va < mid + (8UL << 21); va += 1UL << 21)
            {
                s.Map(va - Page, 2UL << 40, PageSize.Size4K, PgProt.Shared);
                s.Map(va, 3UL << 40, PageSize.Size4K, PgProt.Shared);
            }
        }
        Compare(ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: false));
        Assert.Equal((long)((end - start) / Page), CountMarkersAndProtected(b, start, end));
        a.Verify().ThrowIfInvalid();
        b.Verify().ThrowIfInvalid();

        void Compare(in ChangeProtectionParams p)
        {
            var fa = new FlushPlan();
            var fb = new FlushPlan();
            var oa = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge: false);
            var ob = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge: false);
            var ra = RangeWalker.Walk(a, start, end, ref oa, fa);
            var rb = ParallelWalker.Walk(b, start, end, ref ob, fb, degreeOfParallelism: 3);
            Assert.True(ra == rb, $"{what}: serial {ra}, parallel {rb}");
            Assert.Equal(fa.Ranges.ToArray(), fb.Ranges.ToArray());
            Assert.Equal(ta.TablesInUse, tb.TablesInUse);
            for (ulong va = start; va != end; va += Page)
            {
                ulong* pa = a.TryGetEntry(va, 1), pb = b.TryGetEntry(va, 1);
                Assert.True(pa != null && pb != null && *pa == *pb, $"{what}: 0x{va:X}: serial 0x{(pa == null ? 0 : *pa):X}, parallel 0x{(pb == null ? 0 : *pb):X}");
            }
        }
    }

    private static long CountMarkersAndProtected(AddressSpace s, ulong start, ulong end)
    {
        long n = 0;
        for (ulong va = start; va != end; va += Page)
        {
            ulong* e = s.TryGetEntry(va, 1);
            if (e != null && (*e == PteMarker.UffdWp || (*e & (Pte.Present | Pte.UffdWp)) == (Pte.Present | Pte.UffdWp)))
                n++;
        }
        return n;
    }
}
