using CsCheck;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Entries;
using FastPT.Tlb;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Paging;

/// <summary>
/// Guest-controlled tables are untrusted input. On random garbage tables in guard-paged guest
/// RAM (<see cref="HostileTables"/>: one stray byte kills the run) every walk must end in a
/// defined outcome: the #PF the reference walk predicts, or "outside guest memory" where a
/// link leaves guest RAM; A/D set exactly where the reference says; the batch walk, the TLB
/// and the range verbs never crash, never hang, never reach outside.
/// </summary>
public unsafe class HostileTablePropertyTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly long Iter = PropertyRuns.Iter(60);
    private const int ProbesPerCase = 300;

    private long _ok, _faults, _reserved, _outside;

    [Fact]
    public void TranslateOnGarbageTablesIsTheReferenceWalk()
    {
        Gen.Int.Sample(CheckTranslate, iter: Iter, seed: PropertyRuns.Seed, print: s => $"seed {s}");
        output.WriteLine($"{Iter} cases x {ProbesPerCase} probes: ok {_ok}, #PF {_faults} ({_reserved} reserved-bit), outside guest memory {_outside}");
        // The garbage must reach every outcome, or the comparison proves little.
        Assert.True(_ok > 0 && _faults > 0 && _reserved > 0 && _outside > 0, $"ok {_ok}, #PF {_faults}, reserved {_reserved}, outside {_outside}");
    }

    private void CheckTranslate(int seed)
    {
        using var h = new HostileTables(seed, levels: seed % 3 == 0 ? 5 : 4);
        ulong[] before = new ulong[HostileTables.Words], after = new ulong[HostileTables.Words];
        for (int p = 0; p < ProbesPerCase; p++)
        {
            ulong va = h.Address();
            var access = h.Access();
            var cpu = h.Mode();
            h.Snapshot(before);
            var expected = ReferenceWalk.Run(h.Read, h.RootPhysical, h.Levels, va, access, cpu);
            var actual = h.Space.Translate(va, access, cpu);
            string what = $"seed {seed} probe {p}: {access} 0x{va:X} {cpu}";
            Assert.True(expected.Outside == actual.OutsideGuestMemory, $"{what}: outside guest memory expected {expected.Outside}, got {actual}");
            Assert.True((expected.Ok, expected.Error, expected.FaultLevel) == (actual.Success, actual.ErrorCode, actual.FaultLevel),
                $"{what}: expected ok={expected.Ok} error 0x{(uint)expected.Error:X} level {expected.FaultLevel}, got {actual}");
            if (expected.Ok || expected.Outside)
                Assert.True(expected.Pa == actual.PhysicalAddress, $"{what}: address 0x{expected.Pa:X} expected, got {actual}");
            if (expected.Ok)
                Assert.Equal(expected.Size, actual.Size);

            // A in every entry used and D in the leaf on a write, only on success; nothing else.
            if (expected.Ok)
            {
                for (int u = 0; u < expected.Used.Count; u++)
                {
                    var (table, index) = expected.Used[u];
                    before[SnapshotIndex(table, index)] |= Pte.Accessed
                        | (u == expected.Used.Count - 1 && access == AccessType.Write ? Pte.Dirty : 0);
                }
            }
            h.Snapshot(after);
            int diff = before.AsSpan().CommonPrefixLength(after);
            Assert.True(diff == after.Length, $"{what}: guest RAM word {diff} expected 0x{(diff < after.Length ? before[diff] : 0):X}, got 0x{(diff < after.Length ? after[diff] : 0):X}");

            if (expected.Ok)
                Interlocked.Increment(ref _ok);
            else if (expected.Outside)
                Interlocked.Increment(ref _outside);
            else
                Interlocked.Increment(ref _faults);
            if ((expected.Error & PageFaultError.Reserved) != 0)
                Interlocked.Increment(ref _reserved);
        }
    }

    /// <summary>Where guest-physical table + index lies in <see cref="HostileTables.Snapshot"/>.</summary>
    private static int SnapshotIndex(ulong table, int index)
    {
        int at = 0;
        foreach (var (gpa, pages) in HostileTables.Layout)
        {
            if (table - gpa < (ulong)pages * 4096)
                return at + (int)((table - gpa) / 8) + index;
            at += pages * 512;
        }
        throw new InvalidOperationException($"0x{table:X} is not guest RAM");
    }

    [Fact]
    public void BatchAndTlbOnGarbageTablesGiveWhatSingleWalksGive()
    {
        Gen.Int.Sample(seed =>
        {
            // Three copies of the same garbage: single walks, the batch walk, the TLB.
            int levels = seed % 3 == 0 ? 5 : 4;
            using var single = new HostileTables(seed, levels);
            using var batch = new HostileTables(seed, levels);
            using var cached = new HostileTables(seed, levels);
            var rng = new Random(seed);
            var tlb = new SoftwareTlb(cached.Space, CpuMode.Supervisor, entriesPerMode: 64);
            for (int round = 0; round < 20; round++)
            {
                var cpu = single.Mode();
                var access = single.Access();
                tlb.Mode = cpu;
                var vas = new ulong[rng.Next(1, 40)];
                for (int i = 0; i < vas.Length; i++)
                    vas[i] = i > 0 && rng.Next(3) == 0 ? vas[rng.Next(i)] ^ (ulong)rng.Next(4096) : single.Address(); // repeats hit the TLB
                var expected = vas.Select(va => single.Space.Translate(va, access, cpu)).ToArray();
                var walked = new TranslateResult[vas.Length];
                batch.Space.Translate(vas, access, cpu, walked);
                var fromTlb = new TranslateResult[vas.Length];
                if (round % 2 == 0)
                    tlb.Translate(vas, access, fromTlb);
                else
                    for (int i = 0; i < vas.Length; i++)
                        fromTlb[i] = tlb.Translate(vas[i], access);
                for (int i = 0; i < vas.Length; i++)
                {
                    Assert.True(expected[i] == walked[i], $"seed {seed} round {round}: batch walk of 0x{vas[i]:X} gave {walked[i]}, a single walk {expected[i]}");
                    Assert.True(expected[i] == fromTlb[i], $"seed {seed} round {round}: TLB gave {fromTlb[i]} for 0x{vas[i]:X}, a single walk {expected[i]}");
                }
                Assert.True(single.Snapshot().AsSpan().SequenceEqual(batch.Snapshot()), $"seed {seed} round {round}: the batch walk left other A/D bits than single walks");
                Assert.True(single.Snapshot().AsSpan().SequenceEqual(cached.Snapshot()), $"seed {seed} round {round}: the TLB left other A/D bits than single walks");
            }
        }, iter: Iter, seed: PropertyRuns.Seed, print: s => $"seed {s}");
    }

    [Fact]
    public void RangeVerbsOnGarbageTablesStopOrFinishInsideGuestMemory()
    {
        var statuses = new Dictionary<WalkStatus, int>();
        Gen.Int.Sample(seed =>
        {
            using var h = new HostileTables(seed, levels: seed % 3 == 0 ? 5 : 4);
            var flush = new FlushPlan();
            var rng = h.Rng;
            for (int op = 0; op < 12; op++)
            {
                ulong start = h.Address() & ~0xFFFUL;
                ulong length = (ulong)rng.Next(1, 4096) << (rng.Next(2) == 0 ? 12 : 21);
                ulong end = start + length;
                if (end <= start || !h.Space.IsCanonical(end - 1) || (start < h.Space.UserLimit) != (end - 1 < h.Space.UserLimit))
                    continue;
                var options = new WalkOptions { BudgetPages = rng.Next(2) == 0 ? 1 << 14 : 0, Parallelism = rng.Next(2) == 0 ? 2 : 0 };
                flush.Clear();
                WalkResult r = rng.Next(4) switch
                {
                    0 => PageTableOps.ChangeProtection(h.Space, start, end, ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: rng.Next(2) == 0), flush, options),
                    1 => PageTableOps.ChangeProtection(h.Space, start, end, ChangeProtectionParams.Mprotect(PgProt.Shared, writable: true, shared: true), flush, options, splitHuge: rng.Next(2) == 0),
                    2 => PageTableOps.Zap(h.Space, start, end, ZapParams.Unmap, flush, options),
                    _ => PageTableOps.Harvest(h.Space, start, end, new ulong[(length >> 12) / 64 + 1], HarvestBit.Dirty, flush, options),
                };
                Assert.True(r.WalkEnd >= start && r.WalkEnd <= end, $"seed {seed}: WalkEnd 0x{r.WalkEnd:X} outside [0x{start:X}, 0x{end:X})");
                lock (statuses)
                    statuses[r.Status] = statuses.GetValueOrDefault(r.Status) + 1;
                // Inside the walked range; a split flushes all of its leaf (as Linux does), so with
                // splits the range may widen to the huge leaves at either end, the one holding
                // WalkEnd included: a walk that split a leaf and then stopped (budget, a hostile
                // link below it) before its first page owes the flush of that split.
                // A parallel walk (a zap too: on guest tables it frees none, so it runs in
                // chunks) on tables that link one table at two levels may stop in one chunk after
                // the later chunks ran: what they changed, and flushed, reaches to the range's end
                // (WalkOptions.Parallelism).
                bool parallel = options.Parallelism > 1 && options.BudgetPages == 0 && length >= ParallelWalker.MinParallelBytes;
                ulong reached = parallel ? end : r.WalkEnd;
                ulong lo = r.HugeSplits > 0 ? start & ~((1UL << 30) - 1) : start;
                ulong hi = r.HugeSplits > 0 ? (reached | ((1UL << 30) - 1)) + 1 : reached; // 0 at the top: hi - 1 wraps to the last byte
                foreach (var f in flush.Ranges)
                    Assert.True(f.Start < f.End && f.Start >= lo && f.End - 1 <= hi - 1,
                        $"seed {seed}: flush range [0x{f.Start:X}, 0x{f.End:X}) outside the walked [0x{start:X}, 0x{r.WalkEnd:X}) ({r.HugeSplits} huge leaves split; {options}, {r.Status})");
                // The tables stay walkable whatever the verb left in them.
                for (int p = 0; p < 8; p++)
                    h.Space.Translate(start + ((ulong)rng.NextInt64((long)length) & ~0xFFFUL), h.Access(), h.Mode());
            }
        }, iter: Iter, seed: PropertyRuns.Seed, print: s => $"seed {s}");
        output.WriteLine(string.Join(", ", statuses.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(statuses.GetValueOrDefault(WalkStatus.OutsideGuestMemory) > 0, "no walk met a link outside guest memory");
        Assert.True(statuses.GetValueOrDefault(WalkStatus.Complete) > 0, "no walk completed");
    }
}
