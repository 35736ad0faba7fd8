using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Operations;

public unsafe class PageTableOpsTests
{
    private const ulong GiB = 1UL << 30;
    private static readonly ChangeProtectionParams Protect = ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true);
    private static readonly ChangeProtectionParams Resolve = ChangeProtectionParams.UffdUnprotect(PgProt.ReadOnly);

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void MarkersAcrossPmdAndPudBoundaries_AllocateExactlyTheTablesNeeded(int levels)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src, levels);
        // 3 pages before a 1 GiB boundary to 600 pages after: 2 pud entries' worth of tables.
        ulong start = 5 * GiB - 3 * 4096, end = 5 * GiB + 600 * 4096;
        var r = PageTableOps.ChangeProtection(space, start, end, Protect, new FlushPlan());

        Assert.True(r.Complete);
        Assert.Equal((long)((end - start) >> 12), r.EntriesChanged);
        // pud table (shared), then per side one pmd table, and pte tables: 1 before, 2 after (600 > 512).
        int expected = (levels == 5 ? 1 : 0) + 1 + 2 + 3;
        Assert.Equal(expected, r.TablesAllocated);
        Assert.Equal(1 + expected, src.TablesInUse);
        for (ulong va = start - 4096; va <= end; va += 4096)
        {
            ulong* e = space.TryGetEntry(va, 1);
            bool inside = va >= start && va < end;
            Assert.Equal(inside ? PteMarker.UffdWp : 0, e == null ? 0 : *e);
        }
        // No TLB flush is owed for none -> marker.
        var flush = new FlushPlan();
        var again = PageTableOps.ChangeProtection(space, start, end, Resolve, flush);
        Assert.Equal(r.EntriesChanged, again.EntriesChanged);
        Assert.Equal(0, flush.Count);
        Assert.Equal(0, again.TablesAllocated);
    }

    [Fact]
    public void OutOfTables_StopsConsistently_AndResumes()
    {
        using var src = new NativeTableSource(maxTables: 4); // root + pud + pmd + one pte table
        using var space = new AddressSpace(src);
        ulong start = 2 * GiB, end = start + 3 * 512 * 4096;
        var r = PageTableOps.ChangeProtection(space, start, end, Protect, new FlushPlan());

        Assert.Equal(WalkStatus.OutOfTables, r.Status);
        Assert.Equal(start + 512 * 4096, r.WalkEnd);
        Assert.Equal(512, r.EntriesChanged);
        Assert.Equal(4, src.TablesInUse);
        // Everything before WalkEnd is done, nothing after it is touched.
        Assert.Equal(PteMarker.UffdWp, space.Entry(r.WalkEnd - 4096, 1));
        Assert.True(space.TryGetEntry(r.WalkEnd, 1) == null);
    }

    [Fact]
    public void Budget_StopsAtATableBoundary_AndResumingGivesTheSameTables()
    {
        using var a = new NativeTableSource();
        using var sa = new AddressSpace(a);
        using var b = new NativeTableSource();
        using var sb = new AddressSpace(b);
        ulong start = GiB + 100 * 4096, end = GiB + 5000 * 4096;
        var whole = PageTableOps.ChangeProtection(sa, start, end, Protect, new FlushPlan());

        long total = 0;
        ulong at = start;
        int calls = 0;
        while (true)
        {
            var part = PageTableOps.ChangeProtection(sb, at, end, Protect, new FlushPlan(), new WalkOptions { BudgetPages = 1000 });
            total += part.EntriesChanged;
            calls++;
            if (part.Complete)
                break;
            Assert.Equal(WalkStatus.BudgetExhausted, part.Status);
            Assert.Equal(0UL, part.WalkEnd & ((1UL << 21) - 1));
            at = part.WalkEnd;
        }
        Assert.True(calls > 1);
        Assert.Equal(whole.EntriesChanged, total);
        for (ulong va = start; va < end; va += 4096)
            Assert.Equal(sa.Entry(va, 1), sb.Entry(va, 1));
    }

    [Fact]
    public void PartlyCoveredHugeLeaf_IsSplit_CoveredOneChangesWhole()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        ulong leaf = PgProt.Shared | Pte.Dirty;
        space.Map(GiB, 0x4000_0000, PageSize.Size2M, leaf);
        space.Map(GiB + (1UL << 21), 0x4020_0000, PageSize.Size2M, leaf);
        var p = ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: false);
        var flush = new FlushPlan();

        var r = PageTableOps.ChangeProtection(space, GiB + 4096, GiB + (4UL << 20), p, flush);

        Assert.Equal(1, r.HugeSplits);
        Assert.Equal(511 + 512, r.EntriesChanged);
        ulong first = space.Entry(GiB, 1);
        Assert.Equal(0x4000_0000UL | (leaf & ~Pte.PageSize), first); // outside the range: unchanged
        ulong second = space.Entry(GiB + 4096, 1);
        Assert.Equal(LinuxPte.MkUffdWp(LinuxPte.Modify(0x4000_1000UL | leaf, PgProt.ReadOnly)), second);
        ulong huge = space.Entry(GiB + (1UL << 21), 2);
        Assert.True((huge & Pte.PageSize) != 0 && (huge & Pte.UffdWp) != 0 && (huge & Pte.Writable) == 0);
        // RW went 1 -> 0 on all changed entries, and the split leaf changed page size: one coalesced range.
        Assert.Equal(1, flush.Count);
        Assert.Equal(new FlushRange(GiB, GiB + (4UL << 20)), flush.Ranges[0]); // the split leaf is flushed whole: its page size changed
    }

    [Fact]
    public void PartlyCovered1GLeaf_SplitsTo2M_ThenTheEdgeTo4K()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        ulong leaf = PgProt.Shared | Pte.Dirty | Pte.PatLarge;
        space.Map(GiB, 0x8000_0000, PageSize.Size1G, leaf);
        var p = ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true);

        // From 3 pages into the second 2 MiB extent to the end of the fourth extent.
        ulong start = GiB + (2UL << 20) + 3 * 4096, end = GiB + (8UL << 20);
        var r = PageTableOps.ChangeProtection(space, start, end, p, new FlushPlan());

        Assert.Equal(2, r.HugeSplits); // the 1 GiB leaf, then the 2 MiB leaf at the start edge
        Assert.Equal(509 + 2 * 512, r.EntriesChanged);
        // Untouched 2 MiB leaf before the range keeps PAT at bit 12 and its frame.
        Assert.Equal(0x8000_0000UL | leaf | Pte.PageSize, space.Entry(GiB, 2));
        // The split edge: 4 KiB entries with PAT moved to bit 7, the range part write-protected.
        ulong before = space.Entry(start - 4096, 1);
        Assert.Equal(0x8020_2000UL | (leaf & ~Pte.PatLarge) | Pte.Pat4K, before);
        Assert.Equal(LinuxPte.MkUffdWp(LinuxPte.Modify(0x8020_3000UL | (leaf & ~Pte.PatLarge) | Pte.Pat4K, PgProt.ReadOnly)),
            space.Entry(start, 1));
        // Covered 2 MiB leaves stay huge, protected at pmd level.
        ulong covered = space.Entry(GiB + (4UL << 20), 2);
        Assert.True((covered & Pte.PageSize) != 0 && (covered & Pte.UffdWp) != 0 && (covered & Pte.Writable) == 0);
        Assert.Equal(0x8040_0000UL, covered & Pte.Pfn2MMask);
        // Beyond the range: unchanged 2 MiB leaf.
        Assert.Equal(0x8080_0000UL | leaf | Pte.PageSize, space.Entry(end, 2));
    }

    [Fact]
    public void Zap_FreesFullyCoveredEmptyTables_KeepsThoseWithMarkers()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        ulong start = GiB;
        for (ulong va = start; va < start + (4UL << 20); va += 4096)
            space.Map(va, va, PageSize.Size4K, PgProt.Shared);
        long tables = src.TablesInUse;
        // Protect the second extent so a zap that keeps uffd-wp leaves markers there.
        PageTableOps.ChangeProtection(space, start + (2UL << 20), start + (4UL << 20),
            ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true), new FlushPlan());

        var r = PageTableOps.Zap(space, start, start + (4UL << 20), ZapParams.DontNeedFileUffdWp, new FlushPlan());

        Assert.Equal(1024, r.EntriesChanged);
        Assert.Equal(1, r.TablesFreed);
        Assert.Equal(tables - 1, src.TablesInUse);
        Assert.True(space.TryGetEntry(start, 1) == null);
        Assert.Equal(PteMarker.UffdWp, space.Entry(start + (2UL << 20), 1));
    }

    [Fact]
    public void BadRanges_AreRejected_AndChangeNothing()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        Assert.Throws<ArgumentException>(() => PageTableOps.ChangeProtection(space, 4096 + 1, 8192, Protect, new FlushPlan()));
        Assert.Throws<ArgumentException>(() => PageTableOps.ChangeProtection(space, 8192, 8192, Protect, new FlushPlan()));
        Assert.Throws<ArgumentOutOfRangeException>(() => PageTableOps.ChangeProtection(space, (1UL << 47) - 4096, (1UL << 47) + 4096, Protect, new FlushPlan()));
        Assert.Equal(1, src.TablesInUse);
    }

    [Theory]
    [InlineData(PageSize.Size2M, false)]
    [InlineData(PageSize.Size2M, true)]
    [InlineData(PageSize.Size1G, false)]
    [InlineData(PageSize.Size1G, true)]
    public unsafe void ACoveredHugeLeafMovesWholeAndOwesAFlushEachWay(PageSize size, bool shared)
    {
        // R/W is one of the bits whose change Linux flushes either way (pte_flags_need_flush); a
        // read-only leaf is not moved and owes nothing.
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        ulong va = 0x40_0000_0000, bytes = size.Bytes();
        int level = size == PageSize.Size2M ? 2 : 3;
        space.Map(va, 0x8000_0000, size, PgProt.Shared);
        var options = new WalkOptions { SharedTables = shared };
        var flush = new FlushPlan();
        var r = PageTableOps.WriteProtect(space, va, va + bytes, protect: true, flush, options);
        Assert.Equal(((long)(bytes >> 12), 0), (r.EntriesChanged, r.HugeSplits));
        Assert.Equal([new FlushRange(va, va + bytes)], flush.Ranges.ToArray());
        ulong leaf = *space.TryGetEntry(va, level);
        Assert.Equal((0UL, Pte.UffdWp), (leaf & Pte.Writable, leaf & Pte.UffdWp));
        flush.Clear();
        r = PageTableOps.WriteProtect(space, va, va + bytes, protect: false, flush, options);
        Assert.Equal((long)(bytes >> 12), r.EntriesChanged);
        Assert.Equal([new FlushRange(va, va + bytes)], flush.Ranges.ToArray());
        leaf = *space.TryGetEntry(va, level);
        Assert.Equal((Pte.Writable, 0UL), (leaf & Pte.Writable, leaf & Pte.UffdWp));
        *space.TryGetEntry(va, level) &= ~Pte.Writable;
        flush.Clear();
        r = PageTableOps.WriteProtect(space, va, va + bytes, protect: true, flush, options);
        Assert.Equal((0L, 0), (r.EntriesChanged, flush.Ranges.Length));
    }

    /// <summary>
    /// The raw write-protect walks past holes at every level and past a PTE table a zap left
    /// empty, making no table (nothing needs a marker) and freeing none (the table is the
    /// caller's), and protects what lies beyond them.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public unsafe void AWriteProtectOverHolesAndAnEmptyTableNeitherMakesNorFreesATable(bool protect)
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        ulong va = 0x40_0000_0000, far = va + (1UL << 39) + 3 * GiB + 5 * 4096;   // another 512 GiB, another 1 GiB
        ulong prot = protect ? PgProt.Shared : (PgProt.Shared & ~Pte.Writable) | Pte.UffdWp;
        space.Map(va, 0x8000_0000, PageSize.Size4K, prot);
        space.Map(far, 0x8000_1000, PageSize.Size4K, prot);
        var flush = new FlushPlan();
        PageTableOps.Zap(space, va, va + 4096, ZapParams.Unmap, flush, freeEmptyTables: false);
        long before = tables.TablesInUse;
        flush.Clear();
        var r = PageTableOps.WriteProtect(space, va, far + 4096, protect, flush);
        Assert.Equal((WalkStatus.Complete, far + 4096, 1L, 0L), (r.Status, r.WalkEnd, r.EntriesChanged, r.TablesAllocated));
        Assert.Equal(before, tables.TablesInUse);
        Assert.True(space.TryGetEntry(va, 1) != null, "the empty table was freed");
        Assert.Equal(protect ? 0 : Pte.Writable, *space.TryGetEntry(far, 1) & Pte.Writable);
        Assert.Equal([new FlushRange(far, far + 4096)], flush.Ranges.ToArray());
    }
}
