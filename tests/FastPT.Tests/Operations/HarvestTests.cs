using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Kernels;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>
/// The dirty harvest loses nothing: every 4 KiB page of a dirty 2 MiB or 1 GiB leaf reports,
/// a leaf the range covers in part reports its covered pages and keeps D (no allocation), or
/// is split when asked; accumulate mode ORs; bits land right from any start page; and in
/// shared mode a D bit a writer sets during the harvest is reported now or left for the next.
/// </summary>
public unsafe class HarvestTests
{
    private const ulong GiB = 1UL << 30;
    private const ulong TwoMiB = 1UL << 21;
    private const ulong Base = 4 * GiB;

    private static bool Bit(ulong[] bitmap, long k) => (bitmap[k >> 6] >> (int)(k & 63) & 1) != 0;

    private static long Count(ulong[] bitmap) => bitmap.Sum(w => (long)System.Numerics.BitOperations.PopCount(w));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_dirty_huge_leaf_inside_the_range_reports_every_page_and_loses_its_D(int level)
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        var size = level == 2 ? PageSize.Size2M : PageSize.Size1G;
        ulong bytes = size.Bytes();
        space.Map(Base, 0x40_0000_0000, size, PgProt.Shared | Pte.Dirty);
        space.Map(Base + bytes, 0x80_0000_0000, size, PgProt.Shared); // clean: nothing to report
        long pages = (long)(2 * bytes >> 12);
        var bitmap = new ulong[(pages + 63) / 64];
        var flush = new FlushPlan();
        long tablesBefore = tables.TablesInUse;

        var r = PageTableOps.Harvest(space, Base, Base + 2 * bytes, bitmap, HarvestBit.Dirty, flush);

        Assert.True(r.Complete);
        Assert.Equal(pages / 2, r.EntriesChanged);
        Assert.Equal(pages / 2, Count(bitmap));
        Assert.True(Bit(bitmap, 0) && Bit(bitmap, pages / 2 - 1) && !Bit(bitmap, pages / 2));
        Assert.Equal(0UL, space.Entry(Base, level) & Pte.Dirty);
        Assert.Equal(tablesBefore, tables.TablesInUse);
        // D 1 -> 0 owes a flush of the whole leaf; the clean leaf owes none.
        Assert.Equal([new FlushRange(Base, Base + bytes)], flush.Ranges.ToArray());

        // Nothing written since: the next harvest is empty.
        var again = PageTableOps.Harvest(space, Base, Base + 2 * bytes, bitmap, HarvestBit.Dirty, flush);
        Assert.Equal(0, again.EntriesChanged);
        Assert.Equal(0, Count(bitmap));
    }

    [Fact]
    public void A_leaf_covered_in_part_reports_its_covered_pages_keeps_D_and_allocates_nothing()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        space.Map(Base, 0x40_0000_0000, PageSize.Size2M, PgProt.Shared | Pte.Dirty);
        long tablesBefore = tables.TablesInUse;
        ulong start = Base + 100 * 4096, end = Base + 300 * 4096;
        var bitmap = new ulong[4];
        var flush = new FlushPlan();

        var r = PageTableOps.Harvest(space, start, end, bitmap, HarvestBit.Dirty, flush);

        Assert.True(r.Complete);
        Assert.Equal(200, r.EntriesChanged);
        Assert.Equal(200, Count(bitmap));
        Assert.Equal(0, r.HugeSplits);
        Assert.Equal(tablesBefore, tables.TablesInUse);
        Assert.NotEqual(0UL, space.Entry(Base, 2) & Pte.Dirty); // the pages outside the range are not lost
        Assert.Equal(0, flush.Count);

        // Another harvest of the rest of the leaf still sees its pages dirty.
        var rest = new ulong[8];
        Assert.Equal(512, PageTableOps.Harvest(space, Base, Base + TwoMiB, rest, HarvestBit.Dirty, flush).EntriesChanged);
    }

    [Fact]
    public void Asked_to_split_a_leaf_covered_in_part_it_tracks_the_edge_per_page()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        space.Map(Base, 0x40_0000_0000, PageSize.Size2M, PgProt.Shared | Pte.Dirty);
        ulong start = Base + 100 * 4096, end = Base + 300 * 4096;
        var bitmap = new ulong[4];
        var flush = new FlushPlan();

        var r = PageTableOps.Harvest(space, start, end, bitmap, HarvestBit.Dirty, flush, flags: HarvestFlags.SplitPartialHuge);

        Assert.Equal(1, r.HugeSplits);
        Assert.Equal(200, Count(bitmap));
        Assert.Equal(0UL, space.Entry(start, 1) & Pte.Dirty);
        Assert.NotEqual(0UL, space.Entry(start - 4096, 1) & Pte.Dirty);
        Assert.NotEqual(0UL, space.Entry(end, 1) & Pte.Dirty);
        // The split leaf changes page size: the whole 2 MiB is flushed.
        Assert.Equal([new FlushRange(Base, Base + TwoMiB)], flush.Ranges.ToArray());
    }

    [Fact]
    public void Accumulate_ors_into_the_callers_bitmap_and_overwrite_clears_only_the_range()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        space.Map(Base + 5 * 4096, 0x4000_0000, PageSize.Size4K, PgProt.Shared | Pte.Dirty);
        var bitmap = new ulong[3];
        bitmap[0] = 1UL << 7;
        bitmap[2] = ulong.MaxValue; // beyond the 64 pages of the range: untouched by either mode
        var flush = new FlushPlan();

        PageTableOps.Harvest(space, Base, Base + 64 * 4096, bitmap, HarvestBit.Dirty, flush, flags: HarvestFlags.Accumulate);
        Assert.Equal((1UL << 7) | (1UL << 5), bitmap[0]);

        space.Entry(Base + 5 * 4096, 1) |= Pte.Dirty;
        PageTableOps.Harvest(space, Base, Base + 64 * 4096, bitmap, HarvestBit.Dirty, flush);
        Assert.Equal(1UL << 5, bitmap[0]);
        Assert.Equal(ulong.MaxValue, bitmap[2]);
    }

    [Fact]
    public void Every_start_page_puts_each_bit_where_the_page_is()
    {
        // Dirty pages scattered over 3 tables, harvested from every start page of the first
        // 130 (so bits straddle bitmap words at every offset), against a page-by-page answer.
        var r = new Random(KernelTestDataSeed());
        ulong[] entries = new ulong[3 * 512];
        for (int i = 0; i < entries.Length; i++)
            entries[i] = r.Next(3) switch { 0 => 0, 1 => PgProt.Shared | Pte.Dirty, _ => PgProt.Shared };
        foreach (var isa in Kernels.KernelTestData.Isas)
        {
            for (int first = 0; first < 130; first++)
            {
                using var tables = new NativeTableSource();
                using var space = new AddressSpace(tables);
                for (int i = 0; i < entries.Length; i++)
                    if (entries[i] != 0)
                        space.Map(Base + (ulong)i * 4096, 0x1_0000_0000 + (ulong)i * 4096, PageSize.Size4K, entries[i]);
                int count = entries.Length - first - r.Next(40);
                var bitmap = new ulong[(count + 63) / 64 + 1];
                bitmap[^1] = 0xA5A5; // a word past the range's words stays as it was
                Harvest(isa, space, Base + (ulong)first * 4096, Base + (ulong)(first + count) * 4096, bitmap);
                for (int k = 0; k < count; k++)
                    Assert.True(Bit(bitmap, k) == ((entries[first + k] & Pte.Dirty) != 0), $"{isa} start page {first}: bit {k}");
                for (int k = count; k < (bitmap.Length - 1) * 64; k++)
                    Assert.False(Bit(bitmap, k), $"{isa} start page {first}: bit {k} past the range");
                Assert.Equal(0xA5A5UL, bitmap[^1]);
            }
        }
    }

    [Theory]
    [InlineData(HarvestBit.Dirty)]
    [InlineData(HarvestBit.Accessed)]
    public void Covered_huge_leaves_commit_through_the_write_mode_and_keep_what_a_walker_sets(HarvestBit which)
    {
        // RacingTables sets A (and D on a writable leaf) right before every atomic commit and
        // records each commit: a plain store of the harvested leaf is caught as an unrecorded
        // change, and one that drops the walker's bits as a wrong value.
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        ulong[] flags = [PgProt.Shared | Pte.Dirty, PgProt.Shared, PgProt.ReadOnly | Pte.Dirty, PgProt.Shared | Pte.Dirty, PgProt.ReadOnly];
        for (int i = 0; i < flags.Length; i++)
            space.Map(Base + (ulong)i * TwoMiB, 0x40_0000_0000 + (ulong)i * TwoMiB, PageSize.Size2M, flags[i]);
        ulong* slots = space.TryGetEntry(Base, 2);
        var before = new ReadOnlySpan<ulong>(slots, flags.Length).ToArray();
        RacingTables.Forget(slots, flags.Length);
        var bitmap = new ulong[flags.Length * 512 / 64];
        var flush = new FlushPlan();
        fixed (ulong* b = bitmap)
        {
            var op = new HarvestOp<RacingTables>(b, Base, which);
            RangeWalker.Walk(space, Base, Base + (ulong)flags.Length * TwoMiB, ref op, flush);
        }
        ulong bit = which == HarvestBit.Dirty ? Pte.Dirty : Pte.Accessed;
        for (int i = 0; i < flags.Length; i++)
        {
            bool had = (before[i] & bit) != 0;
            ulong seen = had ? RacingTables.WalkerWrite(before[i]) : before[i];
            Assert.True(slots[i] == (had ? seen & ~bit : before[i]), $"{which} leaf {i}: 0x{before[i]:X} became 0x{slots[i]:X}");
            for (int k = 0; k < 512; k++)
                Assert.True(Bit(bitmap, i * 512 + k) == had, $"{which} leaf {i} page {k}");
        }
        RacingTables.AssertEveryChangeCommitted($"harvest {which} of covered 2 MiB leaves", before, slots);
        // Clearing D owes a flush of each leaf that had it (a cached dirty translation would skip
        // setting D again); clearing A owes none.
        FlushRange[] owed = which == HarvestBit.Dirty ? [new(Base, Base + TwoMiB), new(Base + 2 * TwoMiB, Base + 4 * TwoMiB)] : [];
        Assert.Equal(owed, flush.Ranges.ToArray());
    }

    private static int KernelTestDataSeed() => Kernels.KernelTestData.Seed + 31;

    private static void Harvest(KernelIsa isa, AddressSpace space, ulong start, ulong end, ulong[] bitmap)
    {
        fixed (ulong* b = bitmap)
        {
            var op = new HarvestOp<ExclusiveTables>(b, start, HarvestBit.Dirty, isa: isa);
            Array.Clear(bitmap, 0, (int)(((end - start) >> 12) + 63) / 64);
            RangeWalker.Walk(space, start, end, ref op, new FlushPlan());
        }
    }

    [Fact]
    public void In_shared_mode_no_write_beside_the_harvest_is_lost_on_huge_leaves_either()
    {
        // A writer sets D on 2 MiB leaves (as a vCPU would: a locked OR) while harvests run;
        // every write must show up in the harvest that follows it, or a later one. It also flips
        // a bit the CPU ignores (bit 55) with compare-exchanges: a harvest that stores a stale
        // value instead of clearing D atomically would undo a flip, and the parity would show it.
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        const int Leaves = 64;
        const ulong Flip = 1UL << 55;
        for (int i = 0; i < Leaves; i++)
            space.Map(Base + (ulong)i * TwoMiB, 0x40_0000_0000 + (ulong)i * TwoMiB, PageSize.Size2M, PgProt.Shared);
        var slots = Enumerable.Range(0, Leaves).Select(i => (nint)space.TryGetEntry(Base + (ulong)i * TwoMiB, 2)).ToArray();
        long[] written = new long[Leaves], seen = new long[Leaves], flips = new long[Leaves];
        int ms = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_MS"), out int m) ? m : 400;
        using var stop = new CancellationTokenSource(ms);
        var writer = new Thread(() =>
        {
            var r = new Random(5);
            while (!stop.IsCancellationRequested)
            {
                int i = r.Next(Leaves);
                ref ulong slot = ref *(ulong*)slots[i];
                // Count the write only once the D bit went from 0 to 1: a write to an already dirty leaf is the same dirty page.
                if ((Interlocked.Or(ref slot, Pte.Dirty) & Pte.Dirty) == 0)
                    Interlocked.Increment(ref written[i]);
                for (ulong seenValue = Volatile.Read(ref slot); ;)
                {
                    ulong now = Interlocked.CompareExchange(ref slot, seenValue ^ Flip, seenValue);
                    if (now == seenValue)
                        break;
                    seenValue = now;
                }
                flips[i]++;
            }
        });
        writer.Start();
        var bitmap = new ulong[Leaves * 512 / 64];
        var flush = new FlushPlan();
        void HarvestOnce()
        {
            flush.Clear();
            PageTableOps.Harvest(space, Base, Base + Leaves * TwoMiB, bitmap, HarvestBit.Dirty, flush, new WalkOptions { SharedTables = true });
            for (int i = 0; i < Leaves; i++)
            {
                bool first = Bit(bitmap, i * 512), all = Enumerable.Range(0, 512).All(k => Bit(bitmap, i * 512 + k));
                Assert.Equal(first, all); // a huge leaf reports all its pages or none
                if (first)
                    seen[i]++;
            }
        }
        while (writer.IsAlive)
            HarvestOnce();
        writer.Join();
        HarvestOnce(); // the writes after the last harvest in the loop
        Assert.Equal(written, seen); // each 0->1 of D was harvested exactly once: none lost, none twice
        for (int i = 0; i < Leaves; i++)
            Assert.True(((*(ulong*)slots[i] & Flip) != 0) == (flips[i] % 2 == 1), $"leaf {i}: a concurrent change was undone by the harvest ({flips[i]} flips)");
        Assert.True(written.Sum() > Leaves, $"the race should have run: {written.Sum()} writes");
    }
}
