using FastPT.Entries;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>
/// The KVM dirty-log contract: Get reports every page written since its last Clear (a huge
/// leaf all its pages in the slot), Clear re-arms exactly the masked pages the log held and
/// keeps everything else written since the Get, from any slot start; bad input changes
/// nothing; beside a concurrent writer no write is lost. Writes are Translate(Write), which
/// sets D as a CPU does.
/// </summary>
public sealed unsafe class DirtyLogTests
{
    private const ulong TwoMiB = 1UL << 21;
    private const ulong Base = 0x40_0000_0000;
    private static readonly CpuMode Cpu = new(User: true);

    /// <summary>4 KiB pages in [Base, Base + 4 MiB), 2 MiB leaves in [Base + 4 MiB, Base + 16 MiB).</summary>
    internal static AddressSpace Mixed(ITableSource tables)
    {
        var space = new AddressSpace(tables);
        Map4K(space, Base, Base + 2 * TwoMiB);
        for (ulong va = Base + 2 * TwoMiB; va < Base + 8 * TwoMiB; va += TwoMiB)
            space.Map(va, 0x1_0000_0000 + (va - Base), PageSize.Size2M, PgProt.Shared);
        return space;
    }

    /// <summary>4 KiB pages over [from, to), each at the frame Mixed gives its address.</summary>
    private static void Map4K(AddressSpace space, ulong from, ulong to)
    {
        for (ulong va = from; va < to; va += 4096)
            space.Map(va, 0x1_0000_0000 + (va - Base), PageSize.Size4K, PgProt.Shared);
    }

    /// <summary>A CPU's write: with a write-protect log, a W|P fault goes to the log's handler and the write is retried.</summary>
    internal static void Write(AddressSpace space, ulong va, DirtyLog? log = null, FlushPlan? faultFlush = null)
    {
        var t = space.Translate(va, AccessType.Write, Cpu);
        // A concurrent Clear may protect the page again before the retry: the CPU faults again.
        for (int tries = 0; !t.Success && log is { Mode: DirtyLogMode.WriteProtect } && tries < 1000; tries++)
        {
            Assert.Equal(PageFaultError.Present | PageFaultError.Write | PageFaultError.User, t.ErrorCode);
            Assert.Equal(DirtyLogFault.Resolved, log.HandleWriteFault(va, faultFlush ?? new FlushPlan()));
            t = space.Translate(va, AccessType.Write, Cpu);
        }
        Assert.True(t.Success, $"write to 0x{va:X}: {t.ErrorCode}");
    }

    internal static HashSet<ulong> Pages(ulong[] bitmap, ulong pages)
    {
        var set = new HashSet<ulong>();
        for (ulong k = 0; k < pages; k++)
        {
            if ((bitmap[k >> 6] >> (int)(k & 63) & 1) != 0)
                set.Add(k);
        }
        return set;
    }

    internal static HashSet<ulong> Get(DirtyLog log, int slot, FlushPlan flush)
    {
        ulong pages = log.Pages(slot);
        var bitmap = new ulong[(pages + 63) / 64];
        Assert.True(log.Get(slot, bitmap, flush).Complete);
        return Pages(bitmap, pages);
    }

    [Fact]
    public void Get_reports_written_pages_until_they_are_cleared_and_again_once_rewritten()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, new WalkOptions { SharedTables = true });
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        Assert.Equal(8 * TwoMiB >> 12, log.Pages(0));
        Assert.Empty(Get(log, 0, flush));

        Write(space, Base + 5 * 4096);
        Write(space, Base + 3 * TwoMiB + 0x1234);   // a 2 MiB leaf: all 512 of its pages
        var first = Get(log, 0, flush);
        Assert.Equal(513, first.Count);
        Assert.Contains(5UL, first);
        Assert.Contains(3 * 512UL, first);
        Assert.Contains(4 * 512UL - 1, first);
        // D was taken: the flush plan holds both leaves.
        Assert.Equal([new FlushRange(Base + 5 * 4096, Base + 6 * 4096), new FlushRange(Base + 3 * TwoMiB, Base + 4 * TwoMiB)], flush.Ranges.ToArray());

        // Not cleared: still reported, and bitmaps OR.
        var bitmap = new ulong[log.Pages(0) / 64];
        bitmap[0] = 1UL << 9;
        log.Get(0, bitmap, flush);
        Assert.Equal(first.Append(9UL).ToHashSet(), Pages(bitmap, log.Pages(0)));
        log.Get(0, bitmap, flush);   // the same pages again: ORed, so nothing toggles off
        Assert.Equal(first.Append(9UL).ToHashSet(), Pages(bitmap, log.Pages(0)));

        bitmap[0] &= ~(1UL << 9);
        Assert.Equal(513, log.Clear(0, 0, bitmap, flush));
        Assert.Empty(Get(log, 0, flush));

        Write(space, Base + 5 * 4096);
        Assert.Equal([5UL], Get(log, 0, flush));
    }

    [Fact]
    public void A_write_between_Get_and_Clear_is_dropped_only_for_a_page_the_Get_reported_and_the_mask_names()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space);
        var flush = new FlushPlan();
        log.AddSlot(1, Base, 8 * TwoMiB, flush);
        Write(space, Base + 1 * 4096);
        Write(space, Base + 2 * 4096);
        Assert.Equal([1UL, 2UL], Get(log, 1, flush));

        Write(space, Base + 1 * 4096);   // reported and cleared: the caller copies it after the Clear
        Write(space, Base + 2 * 4096);   // reported, not in the mask: stays
        Write(space, Base + 3 * 4096);   // in the mask, but the Get did not report it: stays
        Write(space, Base + 100 * 4096); // a neighbour the widened harvest takes: stays
        Assert.Equal(1, log.Clear(1, 0, [(1UL << 1) | (1UL << 3)], flush));
        Assert.Equal([2UL, 3UL, 100UL], Get(log, 1, flush));
    }

    [Fact]
    public void A_huge_leaf_is_rearmed_whole_when_cleared_in_parts_and_keeps_the_pages_not_yet_cleared()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, new WalkOptions { SharedTables = true });
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 8 * TwoMiB, flush);
        Write(space, Base + 4 * TwoMiB);
        var got = Get(log, 0, flush);
        Assert.Equal(512, got.Count);

        Write(space, Base + 4 * TwoMiB + 4096);  // between Get and Clear: D again on the leaf
        Assert.Equal(64, log.Clear(0, 4 * 512, [ulong.MaxValue], flush));  // first 64 pages only
        flush.Clear();
        Assert.Equal(0UL, space.Entry(Base + 4 * TwoMiB, 2) & Pte.Dirty);
        var after = Get(log, 0, flush);
        Assert.Equal(Enumerable.Range(4 * 512 + 64, 448).Select(i => (ulong)i).ToHashSet(), after);
        Assert.Equal(448, log.Clear(0, 4 * 512 + 64, [.. Enumerable.Repeat(ulong.MaxValue, 7)], flush));
        Assert.Empty(Get(log, 0, flush));
    }

    /// <summary>Slots (first page, pages) that start and end at every kind of place: table and leaf edges, mid-table, inside a 2 MiB leaf.</summary>
    public static TheoryData<ulong, ulong> SlotPlacements => new()
    {
        { 0UL, 8 * TwoMiB >> 12 },
        { 37UL, 3000UL },          // starts mid-table, ends inside a 2 MiB leaf
        { 1000UL, 1UL },
        { 1024 + 300UL, 1500UL },  // starts inside a 2 MiB leaf
        { 511UL, 1026UL },
    };

    [Theory]
    [MemberData(nameof(SlotPlacements))]
    public void Write_protect_mode_matches_the_same_contract_from_any_slot_start(ulong firstPage, ulong pages)
    {
        for (int seed = 1; seed <= 10; seed++)
        {
            RunModel(seed, firstPage, pages, DirtyLogGranularity.Leaf, DirtyLogMode.WriteProtect);
            RunModel(seed, firstPage, pages, DirtyLogGranularity.Page4K, DirtyLogMode.WriteProtect);
        }
    }

    [Theory]
    [MemberData(nameof(SlotPlacements))]
    public void Random_writes_gets_and_clears_match_the_contract_from_any_slot_start(ulong firstPage, ulong pages)
    {
        for (int seed = 1; seed <= 10; seed++)
            RunModel(seed, firstPage, pages, DirtyLogGranularity.Leaf);
    }

    [Theory]
    [InlineData(0UL, 8 * TwoMiB >> 12)]
    [InlineData(1024 + 300UL, 1500UL)]
    public void Page4K_granularity_reports_the_4K_pages_written_inside_former_huge_leaves(ulong firstPage, ulong pages)
    {
        for (int seed = 1; seed <= 10; seed++)
            RunModel(seed, firstPage, pages, DirtyLogGranularity.Page4K);
    }

    /// <summary>
    /// Random writes (before a Get, between Get and Clear, after the Clear) and random masks
    /// against the contract: Get(k+1) = (Get(k) − mask) ∪ writes after the Clear ∪ (writes
    /// between Get and Clear − (mask ∩ Get(k))), each write standing for every page of its leaf
    /// in the slot; a huge leaf crossing the slot's edge keeps D (it maps pages outside the
    /// slot) and so reports forever once written.
    /// </summary>
    private static void RunModel(int seed, ulong firstPage, ulong pages, DirtyLogGranularity granularity, DirtyLogMode mode = DirtyLogMode.DirtyBit)
    {
        var rng = new Random(seed);
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, new WalkOptions { SharedTables = seed % 2 == 0 }, granularity, mode);
        var flush = new FlushPlan();
        ulong start = Base + (firstPage << 12);
        log.AddSlot(3, start, pages << 12, flush);
        space.Verify().ThrowIfInvalid();
        var sticky = new HashSet<ulong>();

        HashSet<ulong> Written(ulong page)
        {
            ulong va = start + (page << 12);
            Write(space, va, log);
            space.FindLeaf(va, out int level);
            if (level == 1)
                return [page];
            ulong leaf = va & ~(TwoMiB - 1);
            var all = new HashSet<ulong>();
            for (ulong p = leaf; p < leaf + TwoMiB; p += 4096)
            {
                if (p >= start && p < start + (pages << 12))
                    all.Add((p - start) >> 12);
            }
            if (leaf < start || leaf + TwoMiB > start + (pages << 12))
                sticky.UnionWith(all);
            return all;
        }

        HashSet<ulong> WriteSome()
        {
            var set = new HashSet<ulong>();
            int n = rng.Next(0, 6);
            for (int i = 0; i < n; i++)
                set.UnionWith(Written((ulong)rng.NextInt64((long)pages)));
            return set;
        }

        var expected = WriteSome();
        for (int round = 0; round < 12; round++)
        {
            var got = Get(log, 3, flush);
            expected.UnionWith(sticky);
            Assert.True(expected.SetEquals(got),
                $"seed {seed}, slot page {firstPage}+{pages}, round {round}: missing [{string.Join(",", expected.Except(got).Order().Take(8))}], extra [{string.Join(",", got.Except(expected).Order().Take(8))}]");

            var between = WriteSome();
            var mask = new ulong[(pages + 63) / 64];
            foreach (ulong p in got)
            {
                if (rng.Next(4) != 0)
                    mask[p >> 6] |= 1UL << (int)(p & 63);
            }
            if (rng.Next(3) == 0)
                mask[rng.Next(mask.Length)] |= 1;   // names a page the Get may not have reported
            ulong firstWord = (ulong)rng.Next(mask.Length);
            int words = rng.Next(mask.Length - (int)firstWord + 1);
            var sub = mask.AsSpan((int)firstWord, words);
            var named = Pages(mask, pages).Where(p => p >> 6 >= firstWord && p >> 6 < firstWord + (ulong)words).ToHashSet();
            var leaving = named.Intersect(got).ToHashSet();
            Assert.Equal(leaving.Count, log.Clear(3, firstWord * 64, sub, flush));
            var after = WriteSome();
            expected = [.. got.Except(named).Union(after).Union(between.Except(leaving))];
            space.Verify().ThrowIfInvalid();
        }
    }

    [Fact]
    public void Warm_Get_and_Clear_allocate_nothing()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, new WalkOptions { SharedTables = true });
        var flush = new FlushPlan();
        log.AddSlot(0, Base + 37 * 4096, 3000 * 4096, flush);
        var bitmap = new ulong[47];
        void Round()
        {
            for (ulong p = 0; p < 3000; p += 7)
                Write(space, Base + (37 + p) * 4096);
            flush.Clear();
            log.Get(0, bitmap, flush);
            log.Clear(0, 0, bitmap, flush);
        }
        Round();
        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        flush.Clear();
        log.Get(0, bitmap, flush);
        log.Clear(0, 0, bitmap, flush);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Page4K_splits_the_slots_huge_leaves_when_logging_starts_and_flushes_them()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space, granularity: DirtyLogGranularity.Page4K);
        var flush = new FlushPlan();
        log.AddSlot(0, Base + 3 * TwoMiB, 2 * TwoMiB, flush);
        Assert.Equal([new FlushRange(Base + 3 * TwoMiB, Base + 5 * TwoMiB)], flush.Ranges.ToArray());
        space.FindLeaf(Base + 3 * TwoMiB + 4096, out int level);
        Assert.Equal(1, level);
        space.FindLeaf(Base + 5 * TwoMiB, out level);
        Assert.Equal(2, level);   // outside the slot: untouched
        Write(space, Base + 4 * TwoMiB + 7 * 4096);
        Assert.Equal([512UL + 7], Get(log, 0, flush));
    }

    [Fact]
    public void Page4K_splits_a_1GiB_leaf_down_to_4K_pages_where_the_slot_lies_and_leaves_the_rest_2MiB()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        const ulong GiB = 1UL << 30;
        space.Map(Base + GiB, 0x1_0000_0000, PageSize.Size1G, PgProt.Shared);
        var log = new DirtyLog(space, granularity: DirtyLogGranularity.Page4K);
        var flush = new FlushPlan();
        ulong start = Base + GiB + 3 * TwoMiB + 5 * 4096;
        log.AddSlot(0, start, TwoMiB, flush);   // inside the 2 MiB pieces 3 and 4
        Assert.Equal([new FlushRange(Base + GiB, Base + 2 * GiB)], flush.Ranges.ToArray());
        for (ulong piece = 0; piece < 512; piece++)
        {
            space.FindLeaf(Base + GiB + piece * TwoMiB, out int level);
            Assert.True(level == (piece is 3 or 4 ? 1 : 2), $"2 MiB piece {piece} is at level {level}");
        }
        Write(space, start + 510 * 4096);   // in piece 4
        Assert.Equal([510UL], Get(log, 0, flush));
    }

    [Fact]
    public void Slots_may_touch_and_each_logs_only_its_own_pages()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space);
        var flush = new FlushPlan();
        log.AddSlot(0, Base + 64 * 4096, 64 * 4096, flush);
        log.AddSlot(1, Base, 64 * 4096, flush);               // ends where slot 0 begins
        log.AddSlot(2, Base + 128 * 4096, 64 * 4096, flush);  // begins where slot 0 ends
        Assert.Contains("overlaps slot 0", Assert.Throws<ArgumentException>(() => log.AddSlot(3, Base + 127 * 4096, 4096, flush)).Message);
        Assert.Contains("overlaps slot 1", Assert.Throws<ArgumentException>(() => log.AddSlot(3, Base + 63 * 4096, 4096, flush)).Message);
        foreach (ulong p in new ulong[] { 63, 64, 127, 128 })
            Write(space, Base + p * 4096);
        Assert.Equal([63UL], Get(log, 1, flush));
        Assert.Equal([0UL, 63], Get(log, 0, flush));
        Assert.Equal([0UL], Get(log, 2, flush));
        log.RemoveSlot(0);
        Assert.Throws<ArgumentException>(() => log.Pages(0));
        Assert.Equal([63UL], Get(log, 1, flush));   // the others keep their logs
        Assert.Equal([0UL], Get(log, 2, flush));
        log.AddSlot(0, Base + 64 * 4096, 64 * 4096, flush);
        Assert.Empty(Get(log, 0, flush));   // a slot starts clean
    }

    [Fact]
    public void Bad_input_throws_a_clear_error_and_changes_nothing()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space);
        var flush = new FlushPlan();
        log.AddSlot(0, Base + 37 * 4096, 3000 * 4096, flush);   // 3000 pages: 47 words, the last with 56 bits
        Write(space, Base + 40 * 4096);
        Write(space, Base + 3 * TwoMiB);
        var before = Get(log, 0, flush);
        var entries = Snapshot(space);
        flush.Clear();

        Assert.Contains("no slot 5", Assert.Throws<ArgumentException>(() => log.Get(5, new ulong[64], flush)).Message);
        Assert.Contains("needs 47 words", Assert.Throws<ArgumentException>(() => log.Get(0, new ulong[46], flush)).Message);
        Assert.Contains("multiple of 64", Assert.Throws<ArgumentException>(() => log.Clear(0, 3, [ulong.MaxValue], flush)).Message);
        Assert.Contains("at most 47", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(0, 0, new ulong[48], flush)).Message);
        Assert.Contains("at most 0", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(0, 3008, [1], flush)).Message);
        Assert.Contains("past its end", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(0, 46 * 64, [ulong.MaxValue], flush)).Message);
        Assert.Contains("past its end", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(0, 0, [.. Enumerable.Repeat(ulong.MaxValue, 47)], flush)).Message);
        Assert.Contains("already logged", Assert.Throws<ArgumentException>(() => log.AddSlot(0, Base + 64 * TwoMiB, 4096, flush)).Message);
        Assert.Contains("overlaps slot 0", Assert.Throws<ArgumentException>(() => log.AddSlot(1, Base, 38 * 4096, flush)).Message);
        Assert.Contains("multiple of 4 KiB", Assert.Throws<ArgumentException>(() => log.AddSlot(1, Base + 64 * TwoMiB, 100, flush)).Message);
        Assert.Contains("4 KiB-aligned", Assert.Throws<ArgumentException>(() => log.AddSlot(1, Base + 64 * TwoMiB + 1, 4096, flush)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => log.AddSlot(-1, Base + 64 * TwoMiB, 4096, flush));
        Assert.Throws<ArgumentNullException>(() => log.Clear(0, 0, [1], null!));
        Assert.Throws<ArgumentException>(() => new DirtyLog(space, new WalkOptions { BudgetPages = 5 }));

        Assert.Equal(0, flush.Count);
        Assert.Equal(entries, Snapshot(space));
        Assert.Equal(before, Get(log, 0, flush));
        Assert.Equal(2999UL, log.Pages(0) - 1);
        // The last word's valid bits alone are accepted.
        Assert.Equal(before.Count(p => p >= 46 * 64), log.Clear(0, 46 * 64, [(1UL << 56) - 1], flush));
        log.RemoveSlot(0);
        Assert.Throws<ArgumentException>(() => log.Pages(0));
    }

    [Fact]
    public void A_null_argument_or_a_bad_option_is_refused_and_changes_nothing()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        Assert.Throws<ArgumentNullException>(() => new DirtyLog(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyLog(space, new WalkOptions { Parallelism = -2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyLog(space, granularity: (DirtyLogGranularity)7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyLog(space, mode: (DirtyLogMode)7));

        // Each verb checks its plan even where this call would not have used it.
        var log = new DirtyLog(space);
        var flush = new FlushPlan();
        Assert.Throws<ArgumentNullException>(() => log.AddSlot(0, Base, TwoMiB, null!));
        Assert.Throws<ArgumentException>(() => log.Pages(0));
        log.AddSlot(0, Base, TwoMiB, flush);
        Write(space, Base + 4096);
        Assert.Throws<ArgumentNullException>(() => log.Get(0, new ulong[8], null!));
        Assert.Throws<ArgumentNullException>(() => log.Clear(0, 0, [], null!));
        Assert.Throws<ArgumentNullException>(() => log.RemoveSlot(0, null!));
        Assert.Equal([1UL], Get(log, 0, flush));   // still logged, the write still there

        var wp = new DirtyLog(space, mode: DirtyLogMode.WriteProtect);
        wp.AddSlot(0, Base + TwoMiB, TwoMiB, flush);
        Assert.Throws<ArgumentNullException>(() => wp.Get(0, new ulong[8], null!));
        Assert.Throws<ArgumentNullException>(() => wp.Clear(0, 0, [], null!));
        Assert.Empty(Get(wp, 0, flush));
    }

    [Fact]
    public void Clear_of_a_slot_of_whole_words_takes_its_last_word_whole_and_nothing_past_it()
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        var log = new DirtyLog(space);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 128 * 4096, flush);   // two whole words
        Write(space, Base + 127 * 4096);
        Assert.Equal([127UL], Get(log, 0, flush));
        Assert.Contains("at most 0", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(0, 128, [], flush)).Message);
        Assert.Contains("at most 1", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(0, 64, new ulong[2], flush)).Message);
        Assert.Equal([127UL], Get(log, 0, flush));
        Assert.Equal(1, log.Clear(0, 64, [ulong.MaxValue], flush));
        Assert.Empty(Get(log, 0, flush));

        // A slot ending inside a word: one bit past its end is refused, wherever it is.
        log.AddSlot(1, Base + TwoMiB, 100 * 4096, flush);
        Assert.Contains("past its end", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(1, 64, [1UL << 36], flush)).Message);
        Assert.Contains("past its end", Assert.Throws<ArgumentOutOfRangeException>(() => log.Clear(1, 0, [0, 1UL << 40], flush)).Message);
        Assert.Equal(0, log.Clear(1, 64, [(1UL << 36) - 1], flush));
    }

    /// <summary>
    /// A Clear takes D (and owes a flush) only over the windows around the words it names: their
    /// 2 MiB leaves (Leaf) or their 64 pages (Page4K). Pages written elsewhere keep D, so the
    /// flush stays small and the next Get finds them by their own D bit.
    /// </summary>
    [Theory]
    [InlineData(DirtyLogGranularity.Leaf)]
    [InlineData(DirtyLogGranularity.Page4K)]
    public void Clear_takes_D_only_around_the_words_it_names(DirtyLogGranularity granularity)
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        Map4K(space, Base, Base + 4 * TwoMiB);
        var log = new DirtyLog(space, granularity: granularity);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 4 * TwoMiB, flush);
        // Pages in each 2 MiB region: 260 is in word 4 (region 0), 1500 in word 23 (the last of region 2), 1550 in the word after it.
        ulong[] written = [10, 260, 600, 1100, 1500, 1550];
        foreach (ulong p in written)
            Write(space, Base + p * 4096);
        Assert.Equal(written.ToHashSet(), Get(log, 0, flush));
        foreach (ulong p in written)
            Write(space, Base + p * 4096);   // D again on all six

        var mask = new ulong[24];
        mask[4] = mask[23] = ulong.MaxValue;
        flush.Clear();
        Assert.Equal(2, log.Clear(0, 0, mask, flush));

        (ulong First, ulong End)[] windows = granularity == DirtyLogGranularity.Leaf
            ? [(0, 512), (1024, 1536)]
            : [(256, 320), (1472, 1536)];
        bool InWindow(ulong p) => windows.Any(w => p >= w.First && p < w.End);
        foreach (ulong p in written)
        {
            bool dirty = (space.Entry(Base + p * 4096, 1) & Pte.Dirty) != 0;
            Assert.True(dirty != InWindow(p), $"page {p}: D is {(dirty ? "set" : "clear")} after a Clear of words 4 and 23 ({granularity})");
        }
        foreach (var r in flush.Ranges.ToArray())
            Assert.True(InWindow((r.Start - Base) >> 12) && InWindow(((r.End - Base) >> 12) - 1), $"the Clear flushes [0x{r.Start:X}, 0x{r.End:X}), outside its windows");
        // The two named pages leave the log; every other write is still owed.
        Assert.Equal(new ulong[] { 10, 600, 1100, 1550 }.ToHashSet(), Get(log, 0, flush));
    }

    [Fact]
    public void Page4K_splits_a_huge_leaf_mapped_into_the_slot_later_where_a_Clear_covers_it_in_part()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        var log = new DirtyLog(space, granularity: DirtyLogGranularity.Page4K);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, 2 * TwoMiB, flush);
        space.Map(Base + TwoMiB, 0x1_0000_0000, PageSize.Size2M, PgProt.Shared);   // after logging started
        Write(space, Base + TwoMiB);
        Assert.Equal(512, Get(log, 0, flush).Count);   // covered whole: reported whole
        Write(space, Base + TwoMiB);
        Assert.Equal(64, log.Clear(0, 512, [ulong.MaxValue], flush));
        space.FindLeaf(Base + TwoMiB, out int level);
        Assert.Equal(1, level);
        // Split, so the cleared 64 pages are clean and the 448 others stay owed.
        Assert.Equal(Enumerable.Range(512 + 64, 448).Select(i => (ulong)i).ToHashSet(), Get(log, 0, flush));
    }

    [Fact]
    public void Page4K_leaves_4K_pages_with_the_PAT_bit_alone()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        Map4K(space, Base, Base + TwoMiB);
        for (ulong va = Base; va < Base + TwoMiB; va += 4096)
            space.Entry(va, 1) |= Pte.Pat4K;   // bit 7 of a 4 KiB PTE is PAT, not PS
        var entries = Snapshot(space);
        var log = new DirtyLog(space, granularity: DirtyLogGranularity.Page4K);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, TwoMiB, flush);
        Assert.Equal(0, flush.Count);
        Assert.Equal(entries, Snapshot(space));
        Write(space, Base + 9 * 4096);
        Assert.Equal([9UL], Get(log, 0, flush));
    }

    private static ulong[] Snapshot(AddressSpace space)
    {
        var all = new List<ulong>();
        for (ulong va = Base; va < Base + 8 * TwoMiB; va += 4096)
            all.Add(*space.FindLeaf(va, out _));
        return [.. all];
    }

    /// <summary>
    /// A writer thread sets D (Translate in shared tables) while this thread runs Get and Clear
    /// in shared mode; each write is stamped with the epoch the writer read before it. After
    /// harvest N (epoch N, bumped to N + 1 after it), a page the harvest did not report but whose
    /// latest write is of epoch N or later may have been written after the harvest passed it, so it
    /// is owed to harvest N + 1, which must report it (KVM's dirty_log_test check).
    /// </summary>
    /// <remarks>In write-protect mode two writers fault and call the log's handler beside Get and Clear.</remarks>
    [Theory]
    [InlineData(DirtyLogMode.DirtyBit, DirtyLogGranularity.Leaf)]
    [InlineData(DirtyLogMode.WriteProtect, DirtyLogGranularity.Leaf)]
    [InlineData(DirtyLogMode.WriteProtect, DirtyLogGranularity.Page4K)]
    public void Beside_a_concurrent_writer_every_write_appears_in_the_next_harvest(DirtyLogMode mode, DirtyLogGranularity granularity)
    {
        using var tables = new NativeTableSource();
        using var space = Mixed(tables);
        const int pages = 8 * 512;
        var log = new DirtyLog(space, new WalkOptions { SharedTables = true }, granularity, mode);
        var flush = new FlushPlan();
        log.AddSlot(0, Base, pages * 4096UL, flush);
        var stamp = new long[pages];
        long epoch = 1;
        bool stop = false;
        var writers = Enumerable.Range(0, mode == DirtyLogMode.WriteProtect ? 2 : 1).Select(i => new Thread(() =>
        {
            var rng = new Random(11 + i);
            var faultFlush = new FlushPlan();
            while (!Volatile.Read(ref stop))
            {
                int p = rng.Next(pages);
                long e = Volatile.Read(ref epoch);
                faultFlush.Clear();
                Write(space, Base + (ulong)p * 4096, log, faultFlush);
                // Two writers may stamp one page: keep the later epoch (a late write is what is owed).
                long old;
                while ((old = Volatile.Read(ref stamp[p])) < e && Interlocked.CompareExchange(ref stamp[p], e, old) != old)
                {
                }
            }
        })).ToList();
        writers.ForEach(w => w.Start());
        var owed = new bool[pages];
        var bitmap = new ulong[pages / 64];
        long checkedPages = 0, reported = 0;
        try
        {
            for (long n = 1; n <= 300; n++)
            {
                Array.Clear(bitmap);
                log.Get(0, bitmap, flush);
                log.Clear(0, 0, bitmap, flush);
                Volatile.Write(ref epoch, n + 1);
                for (int p = 0; p < pages; p++)
                {
                    bool dirty = (bitmap[p >> 6] >> (p & 63) & 1) != 0;
                    long s = Volatile.Read(ref stamp[p]);
                    if (dirty)
                    {
                        reported++;
                        owed[p] = false;
                        continue;
                    }
                    Assert.False(owed[p], $"harvest {n}: page {p} was written in epoch {n - 1} after harvest {n - 1} and is not in harvest {n}");
                    if (s >= n)
                        owed[p] = true;
                    checkedPages++;
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            writers.ForEach(w => w.Join());
        }
        Assert.True(reported > 1000, $"only {reported} pages reported: the writer barely ran");
        Assert.True(checkedPages > 0);
    }
}
