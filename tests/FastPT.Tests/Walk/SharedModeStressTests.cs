using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Walk;
using FastPT.Tests.Kernels;
using Xunit;

namespace FastPT.Tests.Walk;

/// <summary>
/// Translate threads set A/D with locked ORs while protect / unprotect / D-harvest run over
/// the same tables in shared mode. Every dirty bit a successful write translation set must
/// be harvested by a harvest that started after it; every entry ever read is whole.
/// </summary>
public unsafe class SharedModeStressTests
{
    private const ulong Base = 0x7F00_0000_0000;
    private const int Pages = 8192;
    private const ulong PhysBase = 1UL << 36;

    /// <summary>One walker op per ISA: protect, unprotect or harvest, always in shared mode.</summary>
    private readonly struct Op(KernelIsa isa, int kind, ChangeProtectionParams p, ulong* bitmap) : ILeafOp
    {
        public bool PopulateTables => false;
        public bool FreeEmptyCoveredTables => false;
        public ulong StopAt => 0;
        public bool SplitsHuge(ulong entry, int level, bool covered) => false;
        public bool Hole(ulong va, ulong end) => true;

        public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
        {
            if (kind < 2)
            {
                changed += ChangeProtectionKernels.Apply<SharedTables>(isa, entries, count, p, flush);
                return true;
            }
            Span<ulong> got = stackalloc ulong[8];
            got.Clear();
            changed += HarvestKernels.Harvest<SharedTables>(isa, entries, count, HarvestBit.Dirty, got, flush);
            int first = (int)((va - Base) >> 12);
            for (int i = 0; i < count; i++)
                if ((got[i >> 6] >> (i & 63) & 1) != 0)
                    bitmap[first + i] = 1;
            return true;
        }

        public HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush) => HugeAction.Done;
    }

    public static TheoryData<KernelIsa> Isas => [.. KernelTestData.Isas];

    [Theory]
    [MemberData(nameof(Isas))]
    public void NoDirtyBitIsLostAndNoEntryIsTorn(KernelIsa isa)
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables);
        for (int i = 0; i < Pages; i++)
            space.Map(Base + ((ulong)i << 12), PhysBase + ((ulong)i << 12), PageSize.Size4K, PgProt.Shared & ~Pte.Accessed);

        int ms = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_MS"), out int m) ? m : 600;
        long epoch = 0;          // harvests completed
        bool stop = false;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int threads = Math.Max(2, Environment.ProcessorCount);
        var lastWrite = new long[threads][];
        long successfulWrites = 0;
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            lastWrite[id] = new long[Pages];
            Array.Fill(lastWrite[id], -1);
            workers[t] = new Thread(() =>
            {
                var r = new Random(KernelTestData.Seed + id);
                long writes = 0;
                while (!Volatile.Read(ref stop))
                {
                    int page = r.Next(Pages);
                    ulong va = Base + ((ulong)page << 12);
                    bool write = r.Next(2) == 0;
                    long e = Volatile.Read(ref epoch);
                    var res = space.Translate(va, write ? AccessType.Write : AccessType.Read, CpuMode.UserMode);
                    ulong raw = Volatile.Read(ref space.Entry(va, 1));
                    ulong expect = PhysBase + ((ulong)page << 12);
                    if ((raw & Pte.PfnMask) != expect || (raw & Pte.Present) == 0)
                        errors.Enqueue($"torn or foreign entry 0x{raw:X} at 0x{va:X}");
                    if (res.Success && res.PhysicalAddress != expect)
                        errors.Enqueue($"translate 0x{va:X} -> 0x{res.PhysicalAddress:X}, expected 0x{expect:X}");
                    if (res.Success && write)
                    {
                        lastWrite[id][page] = e;
                        writes++;
                    }
                }
                Interlocked.Add(ref successfulWrites, writes);
            }) { IsBackground = true };
        }

        var harvestedAt = new long[Pages];
        Array.Fill(harvestedAt, -1);
        var bitmap = GC.AllocateArray<ulong>(Pages, pinned: true);
        ulong* bm = (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref bitmap[0]);
        var protect = new[]
        {
            ChangeProtectionParams.Mprotect(PgProt.ReadOnly, writable: false, shared: true),
            ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: false),
        };
        var unprotect = new[]
        {
            ChangeProtectionParams.Mprotect(PgProt.Shared, writable: true, shared: true),
            ChangeProtectionParams.UffdUnprotect(PgProt.Shared),
        };
        foreach (var w in workers)
            w.Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long k = 0, rounds = 0;
        {
            void Harvest(long index)
            {
                Array.Clear(bitmap);
                var op = new Op(isa, 2, default, bm);
                RangeWalker.Walk(space, Base, Base + ((ulong)Pages << 12), ref op);
                for (int i = 0; i < Pages; i++)
                    if (bitmap[i] != 0)
                        harvestedAt[i] = index;
            }
            void Change(in ChangeProtectionParams p)
            {
                var op = new Op(isa, 0, p, null);
                RangeWalker.Walk(space, Base, Base + ((ulong)Pages << 12), ref op);
            }
            while (clock.ElapsedMilliseconds < ms || rounds < 20)
            {
                int which = (int)(rounds % 2);
                Harvest(k);
                Volatile.Write(ref epoch, ++k);
                Change(protect[which]);
                Harvest(k);
                Volatile.Write(ref epoch, ++k);
                Change(unprotect[which]);
                rounds++;
            }
            Volatile.Write(ref stop, true);
            foreach (var w in workers)
                w.Join();
            // Dirty bits of protected pages sit in saved-dirty; unprotect moves them back, then collect.
            Change(unprotect[0]);
            Harvest(k);
        }

        Assert.True(errors.IsEmpty, string.Join("\n", errors.Take(10)));
        Assert.True(successfulWrites > 1000, $"only {successfulWrites} writes got through: the stress did not stress");
        int lost = 0;
        string first = "";
        for (int i = 0; i < Pages; i++)
        {
            long wrote = lastWrite.Max(a => a[i]);
            if (wrote >= 0 && harvestedAt[i] < wrote)
            {
                if (lost++ == 0)
                    first = $"page {i} written in epoch {wrote}, last harvested in {harvestedAt[i]}";
            }
        }
        Assert.True(lost == 0, $"{lost} dirty bits lost over {rounds} rounds ({isa}); first: {first}");
    }
}
