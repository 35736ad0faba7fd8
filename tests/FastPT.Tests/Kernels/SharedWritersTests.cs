using FastPT.Entries;
using FastPT.Kernels;
using Xunit;

namespace FastPT.Tests.Kernels;

/// <summary>
/// Every shared-mode kernel, every ISA in this process, against real threads that write A/D
/// as a CPU does (a locked update of a present entry: A on a read, A and D on a write while it is writable).
/// Every bit a writer sets is a token the writer counts; tokens leave only through a harvest,
/// which counts them too (protect and mprotect move D into saved-dirty and back, they never
/// drop it). At the end every writer's token must be accounted for, entry by entry: a kernel
/// that commits a lane with a plain store loses the bits written between its read and its store.
/// Zap drops what it clears, so it is raced for its counts, flushes and markers instead.
/// The deterministic version of these races is <see cref="SharedCommitTests"/>.
/// </summary>
public unsafe class SharedWritersTests
{
    private const int Entries = 512;

    private static int Milliseconds => int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_MS"), out int m) ? m : 400;

    /// <summary>The kernel pass sequence: every shared kernel, each undoing what the last did.</summary>
    private static readonly ChangeProtectionParams Protect = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: false);
    private static readonly ChangeProtectionParams Unprotect = new(PgProt.Copy,
        ChangeProtectionFlags.UffdWpResolve | ChangeProtectionFlags.TryChangeWritable, false, vmaWritable: true, vmaShared: false, vmaUffdWp: true);
    private static readonly ChangeProtectionParams ReadOnly = ChangeProtectionParams.Mprotect(PgProt.Copy, writable: false, shared: false);
    private static readonly ChangeProtectionParams ReadWrite = ChangeProtectionParams.Mprotect(PgProt.Copy, writable: true, shared: false);
    private static readonly ScanParams ScanWp = new() { EmptyIsWritten = false, WriteProtect = true, Mask = PageCategories.Written }; // kept = written: the count is the pages protected

    [Fact]
    public void NoBitAWriterSetsIsLostByAnyKernelOnAnyIsa()
    {
        foreach (var isa in KernelTestData.Isas)
            Run(isa, Milliseconds);
    }

    private static void Run(KernelIsa isa, int ms)
    {
        var table = GC.AllocateArray<ulong>(Entries, pinned: true);
        ulong* e = (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref table[0]);
        for (int i = 0; i < Entries; i++)
            e[i] = ((ulong)(i + 1) << 12) | Pte.Present | Pte.Writable | Pte.User;

        int writers = Math.Max(2, Environment.ProcessorCount);
        var setA = new long[writers][];
        var setD = new long[writers][];
        bool stop = false;
        var threads = new Thread[writers];
        for (int w = 0; w < writers; w++)
        {
            int id = w;
            setA[id] = new long[Entries];
            setD[id] = new long[Entries];
            threads[w] = new Thread(() =>
            {
                var r = new Random(KernelTestData.Seed + id);
                while (!Volatile.Read(ref stop))
                {
                    int i = r.Next(Entries);
                    ulong old = Volatile.Read(ref e[i]);
                    if ((old & Pte.Present) == 0)
                        continue;
                    // A read sets A; a write sets A and D, and only while the entry is writable.
                    ulong now = old | Pte.Accessed | ((old & Pte.Writable) != 0 && r.Next(2) == 0 ? Pte.Dirty : 0);
                    if (now == old || Interlocked.CompareExchange(ref e[i], now, old) != old)
                        continue;
                    setA[id][i] += (old & Pte.Accessed) == 0 ? 1 : 0;
                    setD[id][i] += ((now ^ old) & Pte.Dirty) != 0 ? 1 : 0;
                }
            }) { IsBackground = true };
        }

        var harvestedA = new long[Entries];
        var harvestedD = new long[Entries];
        var flush = new ulong[8];
        var got = new ulong[8];
        var categories = new ushort[Entries];
        var kept = new ulong[(Entries + 63) / 64];
        void Harvest(HarvestBit which, long[] into)
        {
            Array.Clear(got);
            HarvestKernels.Harvest<SharedTables>(isa, e, Entries, which, got, flush);
            for (int i = 0; i < Entries; i++)
                into[i] += (long)(got[i >> 6] >> (i & 63) & 1);
        }
        void Change(in ChangeProtectionParams p) => ChangeProtectionKernels.Apply<SharedTables>(isa, e, Entries, p, flush);

        foreach (var t in threads)
            t.Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long passes = 0;
        while (clock.ElapsedMilliseconds < ms || passes < 50)
        {
            // A dirty log while writable (reads re-set A under harvest-D, writes set D under harvest-A), then the rest.
            Harvest(HarvestBit.Dirty, harvestedD);
            Harvest(HarvestBit.Accessed, harvestedA);
            Harvest(HarvestBit.Dirty, harvestedD);
            Harvest(HarvestBit.Accessed, harvestedA);
            Change(Protect);
            Harvest(HarvestBit.Accessed, harvestedA);
            Change(Unprotect);
            fixed (ushort* c = categories)
                ScanKernels.Apply<SharedTables>(isa, e, Entries, ScanWp, c, kept, flush);
            Harvest(HarvestBit.Dirty, harvestedD);
            Change(Unprotect);
            Change(ReadOnly);
            Harvest(HarvestBit.Accessed, harvestedA);
            Change(ReadWrite);
            passes++;
        }
        Volatile.Write(ref stop, true);
        foreach (var t in threads)
            t.Join();
        // Collect what is left: saved-dirty back into D, then both bits.
        Change(Unprotect);
        Harvest(HarvestBit.Dirty, harvestedD);
        Harvest(HarvestBit.Accessed, harvestedA);

        long tokensA = 0, tokensD = 0;
        for (int i = 0; i < Entries; i++)
        {
            long a = setA.Sum(s => s[i]), d = setD.Sum(s => s[i]);
            tokensA += a;
            tokensD += d;
            Assert.True(d == harvestedD[i], $"{isa}: entry {i}: writers set D {d} times, harvests found it {harvestedD[i]} times (now 0x{e[i]:X})");
            Assert.True(a == harvestedA[i], $"{isa}: entry {i}: writers set A {a} times, harvests found it {harvestedA[i]} times (now 0x{e[i]:X})");
        }
        Assert.True(tokensD > 1000 && tokensA > 1000, $"{isa}: only {tokensD} D and {tokensA} A bits were written in {passes} passes: the writers did not run");

        // Zap: it drops what it clears, so nothing is counted; but every entry it takes while the
        // writers race it (the retry path) must be counted and flushed once, and none left behind.
        ZapUnderWriters(isa, e, writers, ms / 4);
    }

    private static void ZapUnderWriters(KernelIsa isa, ulong* e, int writers, int ms)
    {
        bool stop = false;
        var threads = new Thread[writers];
        for (int w = 0; w < writers; w++)
        {
            int id = w;
            threads[w] = new Thread(() =>
            {
                var r = new Random(KernelTestData.Seed + 100 + id);
                while (!Volatile.Read(ref stop))
                {
                    int i = r.Next(Entries);
                    ulong old = Volatile.Read(ref e[i]);
                    if ((old & Pte.Present) != 0)
                        Interlocked.CompareExchange(ref e[i], old | Pte.Accessed | Pte.Dirty, old);
                }
            }) { IsBackground = true };
            threads[w].Start();
        }
        var flush = new ulong[8];
        var zp = new ZapParams(DropMarkers: false, KeepUffdWpAsMarker: true);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long passes = 0;
        while (clock.ElapsedMilliseconds < ms || passes < 50)
        {
            // Present entries (half of them uffd-wp, which leave a marker); writers only touch present ones.
            for (int i = 0; i < Entries; i++)
                Volatile.Write(ref e[i], ((ulong)(i + 1) << 12) | Pte.Present | Pte.Writable | Pte.User | (i % 2 == 0 ? Pte.UffdWp : 0));
            Array.Clear(flush);
            long unmapped = ZapKernels.Apply<SharedTables>(isa, e, Entries, zp, flush);
            Assert.True(unmapped == Entries, $"{isa}: zap counted {unmapped} of {Entries} present entries");
            Assert.True(flush.All(f => f == ulong.MaxValue), $"{isa}: zap left present entries unflushed");
            for (int i = 0; i < Entries; i++)
                Assert.True(e[i] == (i % 2 == 0 ? PteMarker.UffdWp : 0), $"{isa}: entry {i} is 0x{e[i]:X} after the zap");
            passes++;
        }
        Volatile.Write(ref stop, true);
        foreach (var t in threads)
            t.Join();
    }
}
