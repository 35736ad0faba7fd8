using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Kvm.Scenarios;

/// <summary>
/// Dirty harvest beside a running vCPU. The guest (one thread, one KVM_RUN) writes a random
/// set of pages per round and posts the round number in a shared page; the host (another
/// thread) harvests-and-clears D bits with atomic ANDs while the vCPU runs, then makes KVM
/// honour the clear (a shadow write-protect sweep: KVM_GET_DIRTY_LOG, safe with the vCPU
/// running) so the next write to a harvested page sets D again.
/// In lockstep mode the guest waits (bounded spin) for the host's acknowledgement after
/// each round, so each harvest must equal exactly that round's set; free-running, the
/// guest never waits and the union of all harvests must equal the union of all writes.
/// </summary>
public static class DirtyHarvestScenario
{
    public const ulong RangeStart = 0x0000_0100_0000_0000;
    private const ulong RoundPosted = GuestLayout.UserShared;
    private const ulong RoundAcked = GuestLayout.UserShared + 8;
    private const ulong TimedOutFlag = GuestLayout.UserShared + 16;
    private const int SpinLimit = 50_000_000;
    private const int FreeRunningRoundSpins = 100_000;

    public static DirtyHarvestReport Run(int seed, int pages = 256, int rounds = 24, bool lockstep = true, bool flushShadow = true, Action<string>? log = null)
    {
        var rng = new Random(seed);
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        for (int i = 0; i < pages; i++)
            m.Space.Map(Page(i), GuestLayout.Scratch + (ulong)i * 4096, PageSize.Size4K, PgProt.SharedExec, PgProt.Table);
        var written = new List<HashSet<ulong>>();
        for (int r = 0; r < rounds; r++)
        {
            var set = new HashSet<ulong>();
            int count = rng.Next(1, pages / 3);
            for (int k = 0; k < count; k++)
                set.Add(Page(rng.Next(pages)));
            written.Add(set);
        }
        ulong program = Emit(m, written, lockstep);
        m.Memory.Bytes(GuestLayout.UserShared, 64).Clear();
        m.Vm.SetDirtyLogging(true);
        var bitmap = new ulong[(pages + 63) / 64];
        var report = new DirtyHarvestReport(seed, pages, rounds, lockstep, flushShadow);
        foreach (var s in written)
            report.Written.Add(s);

        VcpuExit exit = default;
        Exception? failure = null;
        var vcpu = new Thread(() =>
        {
            try
            {
                exit = m.Start(CpuMode.UserMode, program, TimeSpan.FromSeconds(60));
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "vCPU" };
        vcpu.Start();

        ref ulong posted = ref m.Memory.U64(RoundPosted);
        ref ulong acked = ref m.Memory.U64(RoundAcked);
        ulong seen = 0;
        while (true)
        {
            bool finished = !vcpu.IsAlive;
            ulong round = Volatile.Read(ref posted);
            if (round > seen || !lockstep || finished)
            {
                var harvest = HarvestAndClear(m.Space, pages, bitmap);
                if (flushShadow)
                    m.Vm.ShadowWriteFlush();
                if (harvest.Count > 0 || round > seen)
                    report.Harvests.Add(new DirtyHarvest(round, harvest));
                if (round > seen)
                {
                    log?.Invoke($"round {round}: guest wrote {written[(int)round - 1].Count} pages, host harvested {harvest.Count} while the vCPU {(lockstep ? "waits" : "runs on")}");
                    seen = round;
                    Volatile.Write(ref acked, round);
                }
            }
            if (finished)
                break;
            if (lockstep)
                Thread.SpinWait(200);
            else
                Thread.Sleep(0);
        }
        vcpu.Join();
        if (failure is not null)
            throw new KvmException("the vCPU thread failed: " + failure.Message, failure);
        if (!exit.IsOutTo(GuestLayout.PortDone))
            throw new KvmException($"the guest stopped unexpectedly: {exit.Describe()}");
        report.GuestTimedOut = m.Memory.U64(TimedOutFlag) != 0;
        log?.Invoke(report.Summary);
        return report;
    }

    private static ulong Page(int i) => RangeStart + (ulong)i * 4096;

    /// <summary>
    /// One harvest with the core's shared-mode operation: KVM sets A/D in these entries with
    /// its own compare-exchange while the vCPU runs, so every clear must be atomic.
    /// </summary>
    private static HashSet<ulong> HarvestAndClear(AddressSpace space, int pages, ulong[] bitmap)
    {
        // The clears are flushed for the vCPU by the caller (flushShadow), so the plan is not read here.
        PageTableOps.Harvest(space, RangeStart, Page(pages), bitmap, HarvestBit.Dirty, new FlushPlan(), new WalkOptions { SharedTables = true });
        var dirty = new HashSet<ulong>();
        for (int i = 0; i < pages; i++)
            if ((bitmap[i >> 6] & (1UL << i)) != 0)
                dirty.Add(Page(i));
        return dirty;
    }

    /// <summary>Straight-line writes per round, then post the round and (lockstep) wait for the ack with a bounded spin.</summary>
    private static ulong Emit(GuestMachine m, List<HashSet<ulong>> rounds, bool lockstep)
    {
        var a = new Assembler(64);
        for (int r = 0; r < rounds.Count; r++)
        {
            foreach (ulong page in rounds[r])
            {
                a.mov(rax, page + (ulong)(r * 8));
                a.mov(__byte_ptr[rax], (byte)r);
            }
            a.mov(rax, (ulong)(r + 1));
            a.mov(__qword_ptr[(long)RoundPosted], rax);
            if (!lockstep)
            {
                // Give the host time to harvest mid-run: a bounded pause loop, no waiting on it.
                var spin = a.CreateLabel();
                a.mov(ecx, FreeRunningRoundSpins);
                a.Label(ref spin);
                a.pause();
                a.dec(ecx);
                a.jnz(spin);
                continue;
            }
            var wait = a.CreateLabel();
            var next = a.CreateLabel();
            a.mov(ecx, SpinLimit);
            a.Label(ref wait);
            a.cmp(__qword_ptr[(long)RoundAcked], rax);
            a.jae(next);
            a.pause();
            a.dec(ecx);
            a.jnz(wait);
            a.mov(__qword_ptr[(long)TimedOutFlag], 1);
            a.Label(ref next);
        }
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, al);
        a.hlt();
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        return GuestLayout.UserCode;
    }
}

/// <summary>The pages one harvest found dirty, and the last round the guest had posted then.</summary>
public sealed record DirtyHarvest(ulong PostedRound, HashSet<ulong> Pages);

public sealed class DirtyHarvestReport(int seed, int pages, int rounds, bool lockstep, bool flushShadow)
{
    public int Seed => seed;
    public bool Lockstep => lockstep;
    public List<HashSet<ulong>> Written { get; } = [];
    public List<DirtyHarvest> Harvests { get; } = [];
    public bool GuestTimedOut { get; set; }

    public HashSet<ulong> WrittenUnion => [.. Written.SelectMany(s => s)];
    public HashSet<ulong> HarvestedUnion => [.. Harvests.SelectMany(h => h.Pages)];

    /// <summary>Lockstep only: per round, the pages written then but not harvested right after.</summary>
    public List<(int Round, int Missed, int Extra)> RoundDifferences()
    {
        var result = new List<(int, int, int)>();
        foreach (var h in Harvests.Where(h => h.PostedRound > 0).GroupBy(h => h.PostedRound))
        {
            var got = h.SelectMany(x => x.Pages).ToHashSet();
            var want = Written[(int)h.Key - 1];
            int missed = want.Count(p => !got.Contains(p));
            int extra = got.Count(p => !want.Contains(p));
            if (missed != 0 || extra != 0)
                result.Add(((int)h.Key, missed, extra));
        }
        return result;
    }

    public string Summary
    {
        get
        {
            var w = WrittenUnion;
            var h = HarvestedUnion;
            return $"seed {seed}: {rounds} rounds over {pages} pages ({(lockstep ? "lockstep" : "free-running")}, shadow sweep {(flushShadow ? "on" : "off")}): " +
                $"{Written.Sum(s => s.Count)} page writes, {w.Count} distinct pages; {Harvests.Count} harvests found {Harvests.Sum(x => x.Pages.Count)} dirty pages, " +
                $"{h.Count} distinct; missed {w.Count(p => !h.Contains(p))}, extra {h.Count(p => !w.Contains(p))}" +
                (Lockstep ? $"; rounds with differences: {RoundDifferences().Count}" : "") + (GuestTimedOut ? "; GUEST WAIT TIMED OUT" : "");
        }
    }
}
