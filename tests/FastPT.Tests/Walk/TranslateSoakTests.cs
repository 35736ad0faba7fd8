using System.Diagnostics;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Tests.Walk;

/// <summary>
/// Software <see cref="AddressSpace.Translate"/> threads (the hardware walk, setting A/D with
/// locked ORs) against every shared-mode verb, on 4 KiB and 2 MiB pages, for
/// FASTPT_SOAK_SECONDS (10 in CI; a minute or more locally). The space is soaked in short
/// rounds: each round resets every leaf, then the translate threads access each page exactly
/// once (a read or a write), spread over several passes of a group of verbs that one thread
/// runs over the range again and again. A page's A and D are then tokens: a successful access set A once, a successful
/// write set D once, and each token is either still in the entry (D may sit in saved-dirty)
/// or was reported by exactly one harvest of the round (harvests leave 2 MiB leaves alone).
/// Any other count is a lost (or invented) bit, reported with the page, the verb group and
/// the entry.
/// </summary>
public unsafe class TranslateSoakTests(ITestOutputHelper output)
{
    private const ulong Base = 0x7F00_0000_0000;
    private const int SmallPages = 8192;             // [Base, Base + 32 MiB): 4 KiB pages
    private const int HugePages = 2048;              // [Base + 32 MiB, Base + 4128 MiB): 2 MiB pages
    private const int Units = SmallPages + HugePages;
    private const ulong SmallEnd = Base + ((ulong)SmallPages << 12);
    private const ulong End = SmallEnd + ((ulong)HugePages << 21);
    private const ulong Frame = 1UL << 40;
    private const ulong LeafBits = Pte.Present | Pte.Writable | Pte.User | Pte.NoExecute;

    private static double Seconds => double.TryParse(Environment.GetEnvironmentVariable("FASTPT_SOAK_SECONDS"),
        System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double s) ? s : 10;

    [Flags]
    private enum Outcome : byte { None = 0, Read = 1, Write = 2, Fault = 4 }

    private static readonly WalkOptions Shared = new() { SharedTables = true };
    private static readonly WalkOptions SharedParallel = new() { SharedTables = true, Parallelism = 2 };
    private static readonly ChangeProtectionParams Protect = ChangeProtectionParams.UffdWriteProtect(PgProt.Copy, useMarkers: false);
    private static readonly ChangeProtectionParams Unprotect = new(PgProt.Copy,
        ChangeProtectionFlags.UffdWpResolve | ChangeProtectionFlags.TryChangeWritable, false, vmaWritable: true, vmaShared: false, vmaUffdWp: true);
    private static readonly ChangeProtectionParams ReadOnly = ChangeProtectionParams.Mprotect(PgProt.Copy, writable: false, shared: false);
    private static readonly ChangeProtectionParams ReadWrite = ChangeProtectionParams.Mprotect(PgProt.Copy, writable: true, shared: false);

    /// <summary>The state one round's verbs share with the check.</summary>
    private sealed class Round(AddressSpace space)
    {
        public readonly AddressSpace Space = space;
        public readonly FlushPlan Flush = new();
        public readonly ulong[] Bitmap = new ulong[SmallPages / 64];
        public readonly int[] HarvestedD = new int[Units];
        public readonly int[] HarvestedA = new int[Units];
        public long Passes;

        public void Harvest(HarvestBit which, in WalkOptions options)
        {
            Flush.Clear();
            PageTableOps.Harvest(Space, Base, SmallEnd, Bitmap, which, Flush, options);
            int[] into = which == HarvestBit.Dirty ? HarvestedD : HarvestedA;
            for (int w = 0; w < Bitmap.Length; w++)
                for (ulong bits = Bitmap[w]; bits != 0; bits &= bits - 1)
                    into[w * 64 + System.Numerics.BitOperations.TrailingZeroCount(bits)]++;
        }

        public void Change(in ChangeProtectionParams p, in WalkOptions options)
        {
            Flush.Clear();
            var r = PageTableOps.ChangeProtection(Space, Base, End, p, Flush, options);
            Assert.True(r.Complete && r.TablesAllocated == 0 && r.HugeSplits == 0, $"change protection: {r}");
        }

        public void ScanWp()
        {
            Flush.Clear();
            var output = new ScanOutput(null, 0, 0);
            var op = new ScanOp(Space, &output, new ScanParams { EmptyIsWritten = false, WriteProtect = true }, holeIsWritten: false, ScanParams.NoPfn, Flush, sharedTables: true);
            RangeWalker.Walk(Space, Base, SmallEnd, ref op, Flush);
        }

        public void Zap()
        {
            Flush.Clear();
            // Tables are kept: a concurrent Translate may still hold a pointer into one (see docs/design.md).
            PageTableOps.Zap(Space, Base, End, ZapParams.Unmap, Flush, Shared, freeEmptyTables: false);
        }
    }

    /// <summary>Verb groups, one per round in turn: each runs over and over while the round's accesses go on.</summary>
    private static readonly (string Name, bool Zaps, Action<Round> Pass)[] Groups =
    [
        ("harvest D and A", false, r => { r.Harvest(HarvestBit.Dirty, Shared); r.Harvest(HarvestBit.Accessed, Shared); }),
        ("uffd-wp protect / unprotect", false, r => { r.Change(Protect, Shared); r.Change(Unprotect, Shared); }),
        ("mprotect read-only / read-write", false, r => { r.Change(ReadOnly, Shared); r.Change(ReadWrite, Shared); }),
        ("scan WP_MATCHING / unprotect", false, r => { r.ScanWp(); r.Change(Unprotect, Shared); }),
        ("every verb, two threads", false, r =>
        {
            r.Harvest(HarvestBit.Dirty, SharedParallel);
            r.Change(Protect, SharedParallel);
            r.Harvest(HarvestBit.Accessed, SharedParallel);
            r.Change(Unprotect, SharedParallel);
            r.ScanWp();
            r.Harvest(HarvestBit.Dirty, Shared);
            r.Change(Unprotect, Shared);
            r.Change(ReadOnly, SharedParallel);
            r.Harvest(HarvestBit.Accessed, Shared);
            r.Change(ReadWrite, SharedParallel);
        }),
        ("zap", true, r => r.Zap()),
    ];

    [Fact]
    public void TranslateThreadsLoseNoAccessedOrDirtyBitToAnySharedVerb()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        var slots = new nint[Units];
        var fresh = new ulong[Units];
        for (int u = 0; u < Units; u++)
        {
            var (va, size) = Unit(u);
            space.Map(va, Frame + (va - Base), size, LeafBits);
            slots[u] = (nint)space.TryGetEntry(va, size == PageSize.Size4K ? 1 : 2);
            fresh[u] = *(ulong*)slots[u];
        }

        int translators = Math.Max(2, Environment.ProcessorCount);
        var outcomes = new Outcome[Units];
        var stats = new long[Groups.Length, 5]; // rounds, verb passes, reads, writes, faults
        var clock = Stopwatch.StartNew();
        long rounds = 0;
        while (clock.Elapsed.TotalSeconds < Seconds || rounds < Groups.Length * 3)
        {
            int g = (int)(rounds % Groups.Length);
            var round = new Round(space);
            for (int u = 0; u < Units; u++)
                *(ulong*)slots[u] = fresh[u];
            Array.Clear(outcomes);

            int running = translators;
            var threads = new Thread[translators];
            for (int t = 0; t < translators; t++)
            {
                int id = t;
                threads[t] = new Thread(() =>
                {
                    try
                    {
                        Access(space, id, translators, new Random(unchecked((int)rounds * 31 + id)), outcomes, round);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref running);
                    }
                });
                threads[t].Start();
            }
            do
            {
                Groups[g].Pass(round);
                Volatile.Write(ref round.Passes, round.Passes + 1);
            }
            while (Volatile.Read(ref running) > 0 || round.Passes < Chunks);
            foreach (var t in threads)
                t.Join();

            Check(rounds, g, round, slots, outcomes);
            stats[g, 0]++;
            stats[g, 1] += round.Passes;
            foreach (var o in outcomes)
            {
                stats[g, 2] += (o & Outcome.Read) != 0 ? 1 : 0;
                stats[g, 3] += (o & Outcome.Write) != 0 ? 1 : 0;
                stats[g, 4] += (o & Outcome.Fault) != 0 ? 1 : 0;
            }
            rounds++;
        }
        space.Verify().ThrowIfInvalid();

        output.WriteLine($"{rounds} rounds in {clock.Elapsed.TotalSeconds:F1} s, {translators} translate threads, kernels {KernelIsas.Name(KernelIsas.Selected)}");
        for (int g = 0; g < Groups.Length; g++)
            output.WriteLine($"  {Groups[g].Name,-32} {stats[g, 0],6} rounds {stats[g, 1],8} verb passes {stats[g, 2],10} reads {stats[g, 3],10} writes {stats[g, 4],10} faults");
        for (int g = 0; g < Groups.Length; g++)
        {
            Assert.True(stats[g, 1] >= stats[g, 0], $"{Groups[g].Name}: the verbs did not run in every round");
            Assert.True(Groups[g].Zaps || stats[g, 3] > 0, $"{Groups[g].Name}: no write ever succeeded, nothing was checked");
        }
    }

    /// <summary>Unit u: a 4 KiB page, or (from SmallPages on) a 2 MiB page.</summary>
    private static (ulong Va, PageSize Size) Unit(int u) => u < SmallPages
        ? (Base + ((ulong)u << 12), PageSize.Size4K)
        : (SmallEnd + ((ulong)(u - SmallPages) << 21), PageSize.Size2M);

    /// <summary>
    /// One translate thread: each of its pages (u = id mod n), 4 KiB and 2 MiB, once, in random
    /// order, a read or a write; paced in <see cref="Chunks"/> slices, slice k not before the
    /// verbs start pass k, so the accesses spread over the passes instead of finishing during
    /// the first.
    /// </summary>
    private static void Access(AddressSpace space, int id, int n, Random r, Outcome[] outcomes, Round round)
    {
        var mine = new List<int>();
        for (int u = id; u < Units; u += n)
            mine.Add(u);
        int[] order = [.. mine];
        r.Shuffle(order);
        for (int k = 0; k < Chunks; k++)
        {
            var wait = new SpinWait();
            while (Volatile.Read(ref round.Passes) < k)
                wait.SpinOnce();
            for (int i = order.Length * k / Chunks; i < order.Length * (k + 1) / Chunks; i++)
                One(space, order[i], r, outcomes);
        }
    }

    private const int Chunks = 8;

    private static void One(AddressSpace space, int u, Random r, Outcome[] outcomes)
    {
        var (va, size) = Unit(u);
        ulong at = va + ((ulong)r.NextInt64((long)size.Bytes()) & ~7UL);
        bool write = r.Next(2) == 0;
        var t = space.Translate(at, write ? AccessType.Write : AccessType.Read, CpuMode.UserMode);
        if (t.Success && t.PhysicalAddress != Frame + (at - Base))
            throw new InvalidOperationException($"0x{at:X} translated to 0x{t.PhysicalAddress:X}, expected 0x{Frame + (at - Base):X}");
        outcomes[u] = !t.Success ? Outcome.Fault : write ? Outcome.Write : Outcome.Read; // this thread's page alone
    }

    private static void Check(long round, int g, Round r, nint[] slots, Outcome[] outcomes)
    {
        for (int u = 0; u < Units; u++)
        {
            ulong e = *(ulong*)slots[u];
            var o = outcomes[u];
            string Where() => $"round {round} ({Groups[g].Name}, {r.Passes} verb passes): {(u < SmallPages ? "4 KiB" : "2 MiB")} page 0x{Unit(u).Va:X}, {o}, entry now 0x{e:X}";
            if (Groups[g].Zaps)
            {
                // The zap took every entry; a Translate that read it before may have ORed A/D into the empty slot.
                Assert.True(LinuxPte.IsNone(e), $"{Where()}: not empty after the zap");
                continue;
            }
            int d = ((e & (Pte.Dirty | Pte.SavedDirty)) != 0 ? 1 : 0) + r.HarvestedD[u];
            int a = ((e & Pte.Accessed) != 0 ? 1 : 0) + r.HarvestedA[u];
            int wantD = (o & Outcome.Write) != 0 ? 1 : 0;
            int wantA = (o & (Outcome.Read | Outcome.Write)) != 0 ? 1 : 0;
            if (d != wantD)
                Assert.Fail($"{Where()}: dirty seen {d} times ({r.HarvestedD[u]} by harvests), expected {wantD}");
            if (a != wantA)
                Assert.Fail($"{Where()}: accessed seen {a} times ({r.HarvestedA[u]} by harvests), expected {wantA}");
        }
    }
}
