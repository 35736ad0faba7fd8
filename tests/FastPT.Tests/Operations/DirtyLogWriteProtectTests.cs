using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;
using static FastPT.Tests.Operations.DirtyLogTests;

namespace FastPT.Tests.Operations;

/// <summary>
/// The write-protect-based log (KVM without PML or D bits): AddSlot and Clear take write access
/// away from exactly the pages that leave the log (a huge leaf whole unless Page4K), the
/// write-fault handler logs the page and gives write access back so the retried write goes
/// through, faults that are not the log's are left alone. The random model and the concurrent
/// writers (faulting into the handler beside Get and Clear) are in <see cref="DirtyLogTests"/>.
/// </summary>
public sealed unsafe class DirtyLogWriteProtectTests
{
    private const ulong TwoMiB = 1UL << 21;
    private const ulong Base = 0x40_0000_0000;
    private static readonly CpuMode Cpu = new(User: true);

    private static bool Writable(AddressSpace space, ulong va) => (*space.FindLeaf(va, out _) & Pte.Writable) != 0;

    private static DirtyLogFault FaultOn(AddressSpace space, DirtyLog log, ulong va, FlushPlan flush)
    {
        var t = space.Translate(va, AccessType.Write, Cpu);
        Assert.False(t.Success, $"0x{va:X} is writable: the log did not protect it");
        return log.HandleWriteFault(va, flush);
    }

    [Fact]
    public void AddSlot_protects_the_slot_a_write_faults_into_the_handler_and_Clear_protects_again()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, new WalkOptions { SharedTables = true }, mode: DirtyLogMode.WriteProtect);
        Assert.Equal(DirtyLogMode.WriteProtect, log.Mode);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        Assert.Equal([new FlushRange(Base, Base + 8 * TwoMiB)], flush.Ranges.ToArray());
        for (ulong va = Base; va < Base + 8 * TwoMiB; va += 4096)
            Assert.False(Writable(space, va), $"0x{va:X} still writable after AddSlot");
        space.FindLeaf(Base + 3 * TwoMiB, out int level);
        Assert.Equal(2, level);   // Leaf granularity: protected whole, not split
        Assert.Empty(Get(log, 0, flush));

        flush.Clear();
        Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + 5 * 4096, flush));
        Assert.Equal([new FlushRange(Base + 5 * 4096, Base + 6 * 4096)], flush.Ranges.ToArray());
        Assert.True(space.Translate(Base + 5 * 4096, AccessType.Write, Cpu).Success);
        Assert.False(Writable(space, Base + 6 * 4096));   // its neighbour stays protected
        Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + 3 * TwoMiB + 0x1234, flush));
        Assert.True(Writable(space, Base + 4 * TwoMiB - 4096));   // the whole 2 MiB leaf
        // A second vCPU faulting on a page another already gave back: resolved, nothing changes.
        Assert.Equal(DirtyLogFault.Resolved, log.HandleWriteFault(Base + 5 * 4096, flush));

        var got = Get(log, 0, flush);
        Assert.Equal(513, got.Count);
        Assert.Contains(5UL, got);
        Assert.Contains(3 * 512UL + 511, got);
        Assert.Equal(got, Get(log, 0, flush));   // not cleared: reported again

        var bitmap = new ulong[log.Pages(0) / 64];
        foreach (ulong p in got)
            bitmap[p >> 6] |= 1UL << (int)(p & 63);
        bitmap[1] |= 1;   // page 64: named, never written
        flush.Clear();
        Assert.Equal(513, log.Clear(0, 0, bitmap, flush));
        Assert.Equal([new FlushRange(Base + 5 * 4096, Base + 6 * 4096), new FlushRange(Base + 3 * TwoMiB, Base + 4 * TwoMiB)], flush.Ranges.ToArray());
        Assert.False(Writable(space, Base + 5 * 4096));
        Assert.False(Writable(space, Base + 3 * TwoMiB + 7 * 4096));
        Assert.Empty(Get(log, 0, flush));
        Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + 5 * 4096, flush));
        Assert.Equal([5UL], Get(log, 0, flush));
    }

    [Fact]
    public void Get_ORs_into_the_callers_bitmap_and_a_page_written_again_before_its_Clear_stays_reported()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        Assert.Equal(DirtyLogFault.OutsideSlots, log.HandleWriteFault(Base + 8 * TwoMiB, flush));   // the slot's end is past it
        Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + 5 * 4096, flush));
        Assert.Equal([5UL], Get(log, 0, flush));
        // Another vCPU's fault on the page already given back marks it again while it is pending.
        Assert.Equal(DirtyLogFault.Resolved, log.HandleWriteFault(Base + 5 * 4096, flush));
        Assert.Equal([5UL], Get(log, 0, flush));
        var bitmap = new ulong[log.Pages(0) / 64];
        bitmap[0] = (1UL << 5) | (1UL << 7);
        bitmap[3] = 1;
        Assert.True(log.Get(0, bitmap, flush).Complete);
        Assert.Equal((1UL << 5) | (1UL << 7), bitmap[0]);
        Assert.Equal(1UL, bitmap[3]);
    }

    /// <summary>
    /// A Clear's runs going from 4 KiB pages into two huge leaves (naming only part of the
    /// second) and from a huge leaf into 4 KiB pages: the pages are protected one by one and
    /// each leaf whole, at its level (no table is made); the leaves' pages the mask did not name
    /// stay in the log.
    /// </summary>
    [Fact]
    public void A_Clear_run_into_huge_leaves_protects_each_leaf_whole_and_keeps_its_unnamed_pages()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        for (ulong p = 4096; p < 4096 + 8; p++)   // 4 KiB pages after the last 2 MiB leaf
            space.Map(Base + p * 4096, 0x2_0000_0000 + p * 4096, PageSize.Size4K, PgProt.Shared);
        var log = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 9 * TwoMiB, flush);
        ulong[] small = [.. Enumerable.Range(1000, 24).Select(p => (ulong)p), 4096, 4097, 4098, 4099];
        foreach (ulong p in small)
            Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + p * 4096, flush));
        foreach (ulong leaf in new ulong[] { 2, 3, 7 })
            Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + leaf * TwoMiB + 0x1234, flush));
        Assert.Equal(small.Length + 3 * 512, Get(log, 0, flush).Count);

        var mask = new ulong[log.Pages(0) / 64];
        foreach (var (from, to) in new[] { (1000, 1600), (3800, 4099) })
        {
            for (int p = from; p <= to; p++)
                mask[p >> 6] |= 1UL << (p & 63);
        }
        long tablesBefore = tables.TablesInUse;
        flush.Clear();
        Assert.Equal(601 + 300, log.Clear(0, 0, mask, flush));
        Assert.Equal(tablesBefore, tables.TablesInUse);
        Assert.Equal([new FlushRange(Base + 1000 * 4096, Base + 4 * TwoMiB), new FlushRange(Base + 7 * TwoMiB, Base + 4100 * 4096)],
            flush.Ranges.ToArray());
        foreach (ulong p in small)
            Assert.False(Writable(space, Base + p * 4096), $"page {p} left the log but stays writable");
        foreach (ulong leaf in new ulong[] { 2, 3, 7 })
        {
            ulong e = *space.FindLeaf(Base + leaf * TwoMiB, out int level);
            Assert.Equal((2, 0UL, Pte.UffdWp), (level, e & Pte.Writable, e & Pte.UffdWp));
        }
        var left = Enumerable.Range(1601, 2048 - 1601).Concat(Enumerable.Range(3584, 3800 - 3584)).Select(p => (ulong)p);
        Assert.Equal(left.ToHashSet(), Get(log, 0, flush));

        // A write to the part that left the log gives the leaf back whole and logs all of it again.
        Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + 3 * TwoMiB + 5 * 4096, flush));
        Assert.Equal(512, Get(log, 0, flush).Count(p => p >= 1536 && p < 2048));
    }

    /// <summary>
    /// Clear protects the pages it names and no others: a written page between two named ones,
    /// a written 4 KiB page before a named huge leaf and the written huge leaf after it keep write
    /// access and stay in the log (protecting them would lose nothing, but costs the guest a
    /// fault per page for a log that did not ask).
    /// </summary>
    [Fact]
    public void A_Clear_protects_only_the_pages_it_names()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        foreach (ulong p in new ulong[] { 5, 6, 7, 1000 })
            Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + p * 4096, flush));
        foreach (ulong leaf in new ulong[] { 3, 4 })
            Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + leaf * TwoMiB, flush));
        Assert.Equal(4 + 2 * 512, Get(log, 0, flush).Count);

        var mask = new ulong[log.Pages(0) / 64];
        mask[0] = (1UL << 5) | (1UL << 7);
        for (int w = 3 * 512 / 64; w < 4 * 512 / 64; w++)
            mask[w] = ulong.MaxValue;   // the whole of leaf 3
        flush.Clear();
        Assert.Equal(2 + 512, log.Clear(0, 0, mask, flush));
        Assert.Equal([new FlushRange(Base + 5 * 4096, Base + 6 * 4096), new FlushRange(Base + 7 * 4096, Base + 8 * 4096),
            new FlushRange(Base + 3 * TwoMiB, Base + 4 * TwoMiB)], flush.Ranges.ToArray());
        Assert.False(Writable(space, Base + 5 * 4096));
        Assert.False(Writable(space, Base + 7 * 4096));
        Assert.False(Writable(space, Base + 3 * TwoMiB));
        foreach (ulong va in new[] { Base + 6 * 4096, Base + 1000 * 4096, Base + 4 * TwoMiB, Base + 5 * TwoMiB - 4096 })
            Assert.True(Writable(space, va), $"0x{va:X}: not named by the Clear, yet protected");
        Assert.Equal([6UL, 1000UL, .. Enumerable.Range(4 * 512, 512).Select(p => (ulong)p)], Get(log, 0, flush).Order());
    }

    /// <summary>
    /// AddSlot is all or nothing: when the huge leaf under the slot's end cannot be split (no
    /// table), the pages it had already protected get write access back, no slot is added, and
    /// the error says so. With memory, the same AddSlot succeeds.
    /// </summary>
    [Fact]
    public void An_AddSlot_that_cannot_split_a_huge_leaf_at_its_edge_protects_nothing()
    {
        using var native = new NativeTableSource();
        var tables = new FastPT.Tests.Memory.FailingTableSource(native);
        using var space = Mixed(tables);
        var log = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        ulong end = Base + 4 * TwoMiB + 100 * 4096;   // inside leaf 4
        long tablesBefore = native.TablesInUse;
        tables.FailOn = 1;
        var e = Assert.Throws<TableAllocationException>(() => log.AddSlot(0, Base, end - Base, flush));
        Assert.Contains("nothing is logged", e.Message);
        Assert.True(tables.Failed);
        Assert.Equal(tablesBefore, native.TablesInUse);
        for (ulong va = Base; va < Base + 5 * TwoMiB; va += 4096)
        {
            ulong pte = *space.FindLeaf(va, out _);
            Assert.True((pte & Pte.Writable) != 0 && (pte & Pte.UffdWp) == 0, $"0x{va:X} = 0x{pte:X}: left protected by a failed AddSlot");
        }
        Assert.Throws<ArgumentException>(() => log.Pages(0));
        Assert.Equal(DirtyLogFault.OutsideSlots, log.HandleWriteFault(Base, flush));

        tables.FailOn = 0;
        log.AddSlot(0, Base, end - Base, flush);
        Assert.False(Writable(space, end - 4096));
        Assert.True(Writable(space, end));
    }

    /// <summary>
    /// A non-present entry is never the log's, whatever its other bits say: a guest's table (or
    /// an embedder's swap entry) may carry bit 10 without P. Giving it "write access back" would
    /// log a page that was never written and change an entry the log does not own.
    /// </summary>
    [Fact]
    public void A_fault_on_a_non_present_entry_with_bit_10_is_not_the_logs()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        ulong va = Base + 9 * 4096;
        ulong* pte = space.FindLeaf(va, out int level);
        Assert.Equal(1, level);
        ulong notPresent = (*pte & ~(Pte.Present | Pte.Writable)) | Pte.UffdWp;
        *pte = notPresent;
        flush.Clear();
        Assert.Equal(DirtyLogFault.NotLogProtected, log.HandleWriteFault(va, flush));
        Assert.Equal(notPresent, *pte);
        Assert.Equal(0, flush.Count);
        Assert.Empty(Get(log, 0, flush));
    }

    [Fact]
    public void Faults_that_are_not_the_logs_are_left_alone()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        ulong readOnly = Base + 9 * 4096, outside = Base + 9 * TwoMiB;
        space.Map(readOnly, 0x1_0000_0000 + 9 * 4096, PageSize.Size4K, PgProt.Shared & ~Pte.Writable);
        space.Map(outside, 0x1_0000_0000, PageSize.Size4K, PgProt.Shared & ~Pte.Writable);
        var log = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        PageTableOps.Zap(space, Base + 10 * 4096, Base + 11 * 4096, ZapParams.Unmap, flush);
        ulong before = *space.FindLeaf(readOnly, out _);
        flush.Clear();

        Assert.Equal(DirtyLogFault.NotLogProtected, FaultOn(space, log, readOnly, flush));   // mapped read-only
        Assert.Equal(DirtyLogFault.NotLogProtected, log.HandleWriteFault(Base + 10 * 4096, flush)); // not present
        Assert.Equal(DirtyLogFault.OutsideSlots, FaultOn(space, log, outside, flush));
        Assert.Equal(before, *space.FindLeaf(readOnly, out _));
        Assert.Equal(0, flush.Count);
        Assert.Empty(Get(log, 0, flush));

        Assert.Throws<ArgumentNullException>(() => log.HandleWriteFault(Base, null!));
        Assert.Contains("RemoveSlot(id, flush)", Assert.Throws<InvalidOperationException>(() => log.RemoveSlot(0)).Message);
        Assert.Contains("DirtyBit log", Assert.Throws<InvalidOperationException>(() => new DirtyLog(space).HandleWriteFault(Base, flush)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyLog(space, mode: (DirtyLogMode)7));

        // Removing the slot gives write access back, except to the page mapped read-only.
        log.RemoveSlot(0, flush);
        Assert.True(Writable(space, Base));
        Assert.True(Writable(space, Base + 5 * TwoMiB));
        Assert.False(Writable(space, readOnly));
        Assert.Equal(DirtyLogFault.OutsideSlots, log.HandleWriteFault(Base, flush));
    }

    [Fact]
    public void A_huge_leaf_crossing_the_slots_edge_is_split_so_nothing_outside_the_slot_is_protected()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base + 3 * TwoMiB + 100 * 4096, TwoMiB, flush);   // inside two 2 MiB leaves
        space.FindLeaf(Base + 3 * TwoMiB, out int level);
        Assert.Equal(1, level);
        Assert.True(Writable(space, Base + 3 * TwoMiB + 99 * 4096));
        Assert.False(Writable(space, Base + 3 * TwoMiB + 100 * 4096));
        Assert.False(Writable(space, Base + 4 * TwoMiB + 99 * 4096));
        Assert.True(Writable(space, Base + 4 * TwoMiB + 100 * 4096));
        Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + 4 * TwoMiB, flush));
        Assert.Equal([412UL], Get(log, 0, flush));
    }

    [Fact]
    public void Page4K_splits_at_AddSlot_and_a_write_inside_a_former_huge_leaf_logs_one_page()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, granularity: DirtyLogGranularity.Page4K, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        Assert.Equal(DirtyLogFault.Resolved, FaultOn(space, log, Base + 5 * TwoMiB + 3 * 4096, flush));
        Assert.False(Writable(space, Base + 5 * TwoMiB + 4 * 4096));
        Assert.Equal([5 * 512UL + 3], Get(log, 0, flush));
    }

    [Fact]
    public void Warm_fault_Get_and_Clear_allocate_nothing()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, new WalkOptions { SharedTables = true }, mode: DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        log.AddSlot(0, Base + 37 * 4096, 3000 * 4096, flush);
        var bitmap = new ulong[47];
        void Round()
        {
            for (ulong p = 0; p < 3000; p += 7)
                Write(space, Base + (37 + p) * 4096, log, flush);
            flush.Clear();
            log.Get(0, bitmap, flush);
            log.Clear(0, 0, bitmap, flush);
        }
        Round();
        Round();
        flush.Clear();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (ulong p = 0; p < 3000; p += 7)
            log.HandleWriteFault(Base + (37 + p) * 4096, flush);
        flush.Clear();
        log.Get(0, bitmap, flush);
        log.Clear(0, 0, bitmap, flush);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
