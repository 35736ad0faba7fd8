using System.Diagnostics;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Kvm.Scenarios;

/// <summary>
/// KVM's dirty_log_test over FastPT's <see cref="DirtyLog"/>: a vCPU (one thread, one KVM_RUN)
/// writes the current iteration number into the first quadword of random pages of a slot made
/// of 4 KiB pages and 2 MiB leaves, without pause; the host (this thread) ends each iteration
/// with Get, Clear of everything it got, the VMM's flush (a shadow write-protect sweep: under
/// shadow paging a guest TLB flush does not reach KVM, see docs/kvm.md), and bumps the
/// iteration, all in shared mode beside the running vCPU. Check after harvest N: a page the
/// harvest did not report that holds N or N + 1 may have been written after the harvest passed
/// it, so harvest N + 1 must report it; a page holding more than N + 1 is impossible.
/// In <see cref="DirtyLogMode.WriteProtect"/> mode the guest's writes to pages the log protected
/// take a #PF (W|P) whose handler reports CR2 to the VMM (<see cref="PageFaultMode.ReportAndRetry"/>);
/// the vCPU thread hands it to <see cref="DirtyLog.HandleWriteFault"/> and the guest INVLPGs and
/// retries the write, as a VMM does with a write-protection exit.
/// </summary>
public static class DirtyLogScenario
{
    public const ulong SlotStart = 0x0000_0200_0000_0000;
    /// <summary>4 KiB pages, a 2 MiB leaf, 4 KiB pages, two 2 MiB leaves, then 4 KiB pages: 2 MiB blocks of guest scratch RAM.</summary>
    private static readonly bool[] HugeBlocks = [false, true, false, true, true, false];
    public static readonly int Pages = HugeBlocks.Length * 512;
    private const ulong Iteration = GuestLayout.UserShared;
    private const ulong Stop = GuestLayout.UserShared + 8;
    private const ulong Writes = GuestLayout.UserShared + 16;

    /// <param name="harvestWithoutFlush">Skip the VMM's flush (evidence that the check sees lost writes).</param>
    public static DirtyLogReport Run(int seed, TimeSpan duration, bool harvestWithoutFlush = false, Action<string>? log = null,
        DirtyLogMode mode = DirtyLogMode.DirtyBit)
    {
        using var m = new GuestMachine(mode == DirtyLogMode.WriteProtect ? PageFaultMode.ReportAndRetry : PageFaultMode.RecordAndSkip);
        for (int b = 0; b < HugeBlocks.Length; b++)
        {
            ulong va = SlotStart + ((ulong)b << 21), pa = GuestLayout.Scratch + ((ulong)b << 21);
            if (HugeBlocks[b])
                m.Space.Map(va, pa, PageSize.Size2M, PgProt.Shared, PgProt.Table);
            else
            {
                for (ulong o = 0; o < 1UL << 21; o += 4096)
                    m.Space.Map(va + o, pa + o, PageSize.Size4K, PgProt.Shared, PgProt.Table);
            }
        }
        for (int p = 0; p < Pages; p++)
            m.Memory.U64(Frame(p)) = 0;
        m.Memory.Bytes(GuestLayout.UserShared, 64).Clear();
        m.Memory.U64(Iteration) = 1;
        ulong program = Emit(m, seed);
        m.Vm.SetDirtyLogging(true);

        var dirtyLog = new DirtyLog(m.Space, new WalkOptions { SharedTables = true }, mode: mode);
        var flush = new FlushPlan();
        dirtyLog.AddSlot(0, SlotStart, (ulong)Pages * 4096, flush);
        if (flush.Count > 0)
            m.Vm.ShadowWriteFlush();
        var report = new DirtyLogReport(seed, Pages, harvestWithoutFlush, mode);

        VcpuExit exit = default;
        Exception? failure = null;
        var vcpu = new Thread(() =>
        {
            try
            {
                var limit = duration + TimeSpan.FromSeconds(60);
                var faultFlush = new FlushPlan();
                exit = m.Start(CpuMode.UserMode, program, limit);
                // Write-protect mode: the vCPU thread is the VMM's fault path, beside the harvests.
                while (exit.IsOutTo(GuestLayout.PortPageFault))
                {
                    ulong cr2 = m.Memory.U64(GuestLayout.Mailbox);
                    var error = (PageFaultError)m.Memory.U64(GuestLayout.Mailbox + 8);
                    faultFlush.Clear();
                    var outcome = dirtyLog.HandleWriteFault(cr2, faultFlush);
                    if (outcome != DirtyLogFault.Resolved || error != (PageFaultError.Present | PageFaultError.Write | PageFaultError.User))
                        throw new KvmException($"#PF at 0x{cr2:X} (error {error}) is not a dirty-log write fault: {outcome}");
                    report.Faults++;
                    exit = m.Resume(limit);   // the guest INVLPGs CR2 (faultFlush's page) and retries
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "vCPU" };
        vcpu.Start();

        var bitmap = new ulong[(Pages + 63) / 64];
        var owed = new bool[Pages];
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        ref ulong iteration = ref m.Memory.U64(Iteration);
        try
        {
            for (ulong n = 1; clock.Elapsed < duration && vcpu.IsAlive; n++)
            {
                // Let the guest write for a while: 0-2 ms, sometimes not at all.
                if (rng.Next(4) != 0)
                    Thread.Sleep(rng.Next(3));
                Array.Clear(bitmap);
                flush.Clear();
                dirtyLog.Get(0, bitmap, flush);
                dirtyLog.Clear(0, 0, bitmap, flush);
                if (flush.Count > 0 && !harvestWithoutFlush)
                    m.Vm.ShadowWriteFlush();
                Volatile.Write(ref iteration, n + 1);
                report.Iterations = n;
                for (int p = 0; p < Pages; p++)
                {
                    ulong value = Volatile.Read(ref m.Memory.U64(Frame(p)));
                    if ((bitmap[p >> 6] >> (p & 63) & 1) != 0)
                    {
                        report.Reported++;
                        owed[p] = false;
                        continue;
                    }
                    if (owed[p])
                        report.Miss($"harvest {n}: page {p} ({Kind(p)}) held {n - 1} or later after harvest {n - 1} (written after it) and harvest {n} does not report it");
                    if (value > n + 1)
                        report.Miss($"harvest {n}: page {p} holds {value}, an iteration that has not begun");
                    owed[p] = value >= n;
                    if (owed[p])
                        report.Late++;
                }
            }
        }
        finally
        {
            Volatile.Write(ref m.Memory.U64(Stop), 1);
            vcpu.Join();
        }
        if (failure is not null)
            throw new KvmException("the vCPU thread failed: " + failure.Message, failure);
        if (!exit.IsOutTo(GuestLayout.PortDone))
            throw new KvmException($"the guest stopped unexpectedly: {exit.Describe()}");
        report.GuestWrites = m.Memory.U64(Writes);
        report.Seconds = clock.Elapsed.TotalSeconds;
        log?.Invoke(report.Summary);
        return report;
    }

    private static ulong Frame(int page) => GuestLayout.Scratch + (ulong)page * 4096;

    private static string Kind(int page) => HugeBlocks[page >> 9] ? "in a 2 MiB leaf" : "4 KiB";

    /// <summary>
    /// Until the host sets Stop: read the iteration, pick a page by xorshift64, store the iteration
    /// in its first quadword, count the write. Not bounded by a count: the VMM's time limit is.
    /// </summary>
    private static ulong Emit(GuestMachine m, int seed)
    {
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        var done = a.CreateLabel();
        a.mov(r8, 0x9E3779B97F4A7C15UL ^ (ulong)seed);
        a.mov(r9, SlotStart);
        a.mov(r10, (ulong)Pages);
        a.Label(ref loop);
        a.cmp(__qword_ptr[(long)Stop], 0);
        a.jne(done);
        a.mov(rdx, r8);
        a.shl(rdx, 13);
        a.xor(r8, rdx);
        a.mov(rdx, r8);
        a.shr(rdx, 7);
        a.xor(r8, rdx);
        a.mov(rdx, r8);
        a.shl(rdx, 17);
        a.xor(r8, rdx);
        a.mov(rax, r8);
        a.xor(edx, edx);
        a.div(r10);                    // rdx = page
        a.shl(rdx, 12);
        a.add(rdx, r9);
        a.mov(rax, __qword_ptr[(long)Iteration]);
        a.mov(__qword_ptr[rdx], rax);
        a.inc(__qword_ptr[(long)Writes]);
        a.jmp(loop);
        a.Label(ref done);
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, al);
        a.hlt();
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        return GuestLayout.UserCode;
    }
}

/// <summary>What a dirty-log run saw; <see cref="Misses"/> must be 0.</summary>
public sealed class DirtyLogReport(int seed, int pages, bool withoutFlush, DirtyLogMode mode = DirtyLogMode.DirtyBit)
{
    private readonly List<string> _first = [];

    public int Seed => seed;
    public ulong Iterations { get; set; }
    public ulong GuestWrites { get; set; }
    /// <summary>Page reports over all harvests.</summary>
    public long Reported { get; set; }
    /// <summary>Pages written after the harvest passed them, owed to the next one.</summary>
    public long Late { get; set; }
    public long Misses { get; private set; }
    /// <summary>Write-protect faults the log resolved (write-protect mode).</summary>
    public long Faults { get; set; }
    public double Seconds { get; set; }
    public IReadOnlyList<string> FirstMisses => _first;

    public void Miss(string what)
    {
        Misses++;
        if (_first.Count < 10)
            _first.Add(what);
    }

    public string Summary =>
        $"seed {seed}, {mode} log: {Iterations} harvests over {pages} pages (4 KiB and 2 MiB) in {Seconds:F1} s{(withoutFlush ? " WITHOUT the VMM flush" : "")}: " +
        $"{GuestWrites} guest writes, {(mode == DirtyLogMode.WriteProtect ? $"{Faults} write-protect faults, " : "")}{Reported} page reports, {Late} pages written after the harvest passed them; {Misses} misses" +
        (_first.Count > 0 ? "; first: " + _first[0] : "");
}
