using System.Diagnostics;
using System.Runtime;
using FastPT.Benchmarks.Kernel;
using FastPT.Benchmarks.Workloads;
using FastPT.Kernels;
using FastPT.Results.Compare;
using FastPT.Results.Model;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Replay;

namespace FastPT.Benchmarks.Runner;

/// <summary>Sizes and repetitions of the built-in workload.</summary>
public sealed record BenchOptions(
    ulong HotBytes = 1UL << 30,
    ulong DramBytes = 256UL << 30,
    ulong MarkerBytes = 16UL << 30,
    ulong ScanBytes = 1UL << 30,
    double WrittenFraction = 0.10,
    int TranslateCount = 1 << 20,
    int FaultCount = 4096,
    int Repetitions = 9,
    bool Kernel = true,
    IReadOnlyList<string>? Only = null)
{
    /// <summary>Whether a step (one of <see cref="BenchSuite.Steps"/>) runs: all unless <see cref="Only"/> names part of it.</summary>
    public bool Runs(string step) => Only == null || Only.Count == 0 || Only.Any(o => step.Contains(o, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// The built-in workload of `fastpt bench`: every operation timed with its baselines in the
/// same process, every repetition kept (each preceded by an untimed reset so it does the same
/// work), baselines interleaved with the walks they are compared with.
/// </summary>
public static class BenchSuite
{
    public static readonly string[] Steps =
    [
        "protect/unprotect-present-hot", "protect/unprotect-present-dram", "markers-empty",
        "scan-written-reprotect", "translate-random", "wp-fault-roundtrip",
        "model-protect-faulted", "model-scan-faulted", "replayed-traces", "translate-tlb", "dirty-log",
    ];

    /// <summary>Runs the selected steps; <paramref name="args"/> (the command line) is recorded in the environment.</summary>
    public static BenchReport Run(BenchOptions o, Action<string>? progress = null, string? args = null)
    {
        var environment = EnvironmentProbe.Capture(KernelIsas.Name(KernelIsas.Selected), args);
        var results = new List<BenchResult>();
        bool Step(int i)
        {
            if (!o.Runs(Steps[i]))
                return false;
            progress?.Invoke(Steps[i]);
            return true;
        }

        if (Step(0))
        {
            using (var hot = new EngineRange(o.HotBytes, populated: true))
            using (var k = o.Kernel ? new KernelUffdRange(o.HotBytes, populated: true) : null)
            {
                // Interleaved so the bare pass, the walks and the kernel see the same machine (it
                // drifts under load). The kernel goes first and an untimed bare pass brings the
                // tables back into cache, so the bare pass and the walks start equally warm.
                var cycle = TimeCycle(o.Repetitions, hot.Pages,
                    [.. KernelSteps(k), (hot.BarePass, hot.BarePass), (hot.BarePass, null), (() => hot.Protect(), null), (() => hot.Unprotect(), null)]);
                Timing? kProtect = k != null ? cycle[0] : null, kUnprotect = k != null ? cycle[1] : null;
                Timing bare = cycle[^3], protect = cycle[^2], unprotect = cycle[^1];
                Timing sProtect = Time(o, hot.Pages, () => hot.ProtectWith(KernelIsa.Scalar), () => hot.Unprotect());
                Timing sUnprotect = Time(o, hot.Pages, () => hot.UnprotectWith(KernelIsa.Scalar), () => hot.Protect());
                int cores = Math.Min(2, Environment.ProcessorCount);
                var par = TimeCycle(o.Repetitions, hot.Pages, hot.BarePass, () => hot.Protect(), () => hot.Unprotect(),
                    () => hot.BarePassParallel(cores), () => hot.ProtectParallel(cores), () => hot.UnprotectParallel(cores));
                results.Add(new("protect-present-hot", WalkApi, hot.Pages, protect, bare, kProtect, sProtect));
                results.Add(new("unprotect-present-hot", WalkApi, hot.Pages, unprotect, bare, kUnprotect, sUnprotect));
                results.Add(new($"protect-present-hot-{cores}cores", ParallelApi, hot.Pages, par[4], par[3], kProtect, null,
                    $"ParallelWalker over {cores} cores: {par[1].Median / par[4].Median:F2}x one core; the bare pass on {cores} threads: {par[0].Median / par[3].Median:F2}x one thread (interleaved runs; vs bare = against the {cores}-thread pass)"));
            }
        }

        if (Step(1))
        {
            Timing? kernelHotProtect = results.Find(r => r.Op == "protect-present-hot")?.Kernel;
            Timing? kernelHotUnprotect = results.Find(r => r.Op == "unprotect-present-hot")?.Kernel;
            using (var dram = new EngineRange(o.DramBytes, populated: true))
            {
                string kNote = "kernel figure from the hot-range run (this machine has no RAM for the same VA of real pages; the kernel's per-page cost is bookkeeping, not table traffic)";
                var cycle = TimeCycle(o.Repetitions, dram.Pages, dram.BarePass, () => dram.Protect(), () => dram.Unprotect());
                Timing bare = cycle[0], protect = cycle[1], unprotect = cycle[2];
                Timing sProtect = Time(Math.Min(o.Repetitions, 3), dram.Pages, () => dram.ProtectWith(KernelIsa.Scalar), () => dram.Unprotect());
                int cores = Math.Min(2, Environment.ProcessorCount);
                var parCycle = TimeCycle(o.Repetitions, dram.Pages, dram.BarePass, () => dram.Protect(), () => dram.Unprotect(),
                    () => dram.BarePassParallel(cores), () => dram.ProtectParallel(cores), () => dram.UnprotectParallel(cores));
                Timing par = parCycle[4], barePar = parCycle[3];
                double oneCore = parCycle[1].Median, bareOne = parCycle[0].Median;
                results.Add(new("protect-present-dram", WalkApi, dram.Pages, protect, bare, kernelHotProtect, sProtect, kNote));
                results.Add(new("unprotect-present-dram", WalkApi, dram.Pages, unprotect, bare, kernelHotUnprotect, null, kNote));
                results.Add(new($"protect-present-dram-{cores}cores", ParallelApi, dram.Pages, par, barePar, kernelHotProtect, null,
                    $"ParallelWalker over {cores} cores: {oneCore / par.Median:F2}x one core; the bare pass on {cores} threads: {bareOne / barePar.Median:F2}x one thread (interleaved runs; vs bare = against the {cores}-thread pass)"));
            }
        }

        if (Step(2))
        {
            using (var empty = new EngineRange(o.MarkerBytes, populated: false))
            using (var k = o.Kernel ? new KernelUffdRange(o.MarkerBytes, populated: false) : null)
            {
                // Markers into a fresh range (tables allocated on the way), then clearing them; the kernel in the same repetitions.
                var cycle = TimeCycle(o.Repetitions, empty.Pages,
                    [(() => empty.Protect(), empty.Reset), (() => empty.Unprotect(), null), .. KernelSteps(k, k == null ? null : k.Remap)]);
                Timing markers = cycle[0], clear = cycle[1];
                Timing? kMarkers = k != null ? cycle[2] : null, kClear = k != null ? cycle[3] : null;
                results.Add(new("markers-empty", WalkApi, empty.Pages, markers, null, kMarkers, null, "includes allocating and zeroing the PTE tables (both sides)"));
                results.Add(new("markers-clear", WalkApi, empty.Pages, clear, null, kClear));
            }
        }

        if (Step(3))
        {
            using (var scan = new EngineScan(o.ScanBytes, o.WrittenFraction))
            using (var ks = o.Kernel ? new KernelPagemapScan(o.ScanBytes, o.WrittenFraction) : null)
            {
                var cycle = TimeCycle(o.Repetitions, scan.Pages,
                    [(() => scan.ScanAndProtect(), scan.Dirty), .. ks == null ? [] : new (Action, Action?)[] { (() => ks.ScanAndProtect(), ks.Dirty) }]);
                results.Add(new("scan-written-reprotect", "PageTableOps.Scan(mask=written, return=written, WP_MATCHING) (synthetic uniform tables)", scan.Pages, cycle[0], null, ks != null ? cycle[1] : null, null,
                    $"{o.WrittenFraction:P0} of pages written; per page of the range"));
            }
        }

        if (Step(4))
        {
            using (var f = new EngineFaults(o.HotBytes, o.TranslateCount))
            {
                Timing t = Time(o, f.Count, () => f.TranslateAll());
                results.Add(new("translate-random", "AddressSpace.Translate", f.Count, t, Note: "per translation of a random address in 1 GiB of 4 KiB pages", Unit: "ns/translation"));
            }
        }

        if (Step(5))
        {
            using (var f = new EngineUffdFaults(o.FaultCount))
            using (var kf = o.Kernel ? new KernelWpFaultRoundTrip(o.FaultCount) : null)
            {
                var cycle = TimeCycle(o.Repetitions, f.Pages,
                    [(() => f.RoundTrips(), f.ProtectAll), .. kf == null ? [] : new (Action, Action?)[] { (() => kf.RoundTrips(), kf.ProtectAll) }]);
                results.Add(new("wp-fault-roundtrip", "MemoryModel.Access + MemoryModel.WriteProtect", f.Pages, cycle[0], null, kf != null ? cycle[1] : null, null,
                    "per round trip: a store to a write-protected shmem page faults (WRITE|WP message), the handler unprotects that page, the store completes; engine = FastPT.Uffd.MemoryModel, kernel = worker thread in memset + UFFDIO_WRITEPROTECT mode 0",
                    "ns/round-trip"));
            }
        }
        if (Step(6))
        {
            // Tables the fault path built, through the public model verb; the same call on the
            // synthetic tables and the kernel on anonymous async-wp memory in the same cycles.
            using (var m = new ModelRange(o.HotBytes, o.WrittenFraction))
            using (var syn = new EngineRange(o.HotBytes, populated: true))
            using (var k = o.Kernel ? new KernelUffdRange(o.HotBytes, populated: true, anonymous: true) : null)
            {
                var cycle = TimeCycle(o.Repetitions, m.Pages,
                    [.. KernelSteps(k), (m.BarePass, m.BarePass), (() => m.Protect(), null), (() => m.Unprotect(), null),
                     (() => syn.Protect(), syn.BarePass), (() => syn.Unprotect(), null)]);
                int at = k != null ? 2 : 0;
                Timing bare = cycle[at], protect = cycle[at + 1], unprotect = cycle[at + 2], synProtect = cycle[at + 3], synUnprotect = cycle[at + 4];
                // Paired, as the bare and kernel ratios are: the median of the per-repetition
                // ratios (the two steps ~1 ms apart in each cycle), which the VM's drift between
                // repetitions moves far less than a ratio of the two medians.
                string Vs(Timing model, Timing synthetic)
                {
                    double paired = Comparer.Median(model.RatiosTo(synthetic)!);
                    return $"{paired:F2}x the same change on the synthetic uniform tables (median of the paired per-repetition ratios; the synthetic median {synthetic.Median:F3} ns/page, the ratio of medians {model.Median / synthetic.Median:F2}x)";
                }
                results.Add(new("model-protect-faulted", "MemoryModel.WriteProtect(protect: true)", m.Pages, protect, bare, k != null ? cycle[0] : null, null,
                    $"1 GiB of anonymous memory populated by the model's write faults (async uffd-wp); kernel = UFFDIO_WRITEPROTECT on populated anonymous async-wp memory; {Vs(protect, synProtect)}"));
                results.Add(new("model-unprotect-faulted", "MemoryModel.WriteProtect(protect: false)", m.Pages, unprotect, bare, k != null ? cycle[1] : null, null,
                    $"the same tables; {Vs(unprotect, synUnprotect)}"));
            }
        }

        if (Step(7))
        {
            // PAGEMAP_SCAN through the public model verb on tables faults built, written pages
            // made by the model's own write faults; the idle rescan finds nothing to protect.
            using (var m = new ModelRange(o.ScanBytes, o.WrittenFraction))
            using (var ks = o.Kernel ? new KernelPagemapScan(o.ScanBytes, o.WrittenFraction) : null)
            {
                m.Protect();
                int regions = 0;
                var cycle = TimeCycle(o.Repetitions, m.Pages,
                    [(() => { m.ScanWrittenAndProtect(); regions = m.LastRegionCount; }, m.Dirty), (() => m.ScanWrittenAndProtect(), null), (m.BareRead, null),
                     (m.BareProtectWritten, m.Dirty),
                     .. ks == null ? [] : new (Action, Action?)[] { (() => ks.ScanAndProtect(), ks.Dirty), (() => ks.ScanAndProtect(), null) }]);
                results.Add(new("model-scan-written-reprotect", "MemoryModel.Scan(mask=written, return=written, WP_MATCHING)", m.Pages, cycle[0], cycle[3], ks != null ? cycle[4] : null, null,
                    $"{o.WrittenFraction:P0} of 1 GiB written by the model's async wp faults since the last scan, {regions} regions output per scan (one per run of written pages, as the ioctl's vec); per page of the range; kernel = PAGEMAP_SCAN with PM_SCAN_WP_MATCHING on anonymous async-wp memory; bare = one SIMD pass that loads every PTE, protects the written ones and stores every vector back (no categories, regions or flush plan: the hardware limit of any scan that reads every PTE)"));
                results.Add(new("model-scan-idle", "MemoryModel.Scan(mask=written, return=written, WP_MATCHING)", m.Pages, cycle[1], cycle[2], ks != null ? cycle[5] : null, null,
                    $"the rescan with nothing written since the last one; per page of the range; the model skips each table its last scan left unwritten (one lookup per table), where the kernel reads every PTE; bare = a SIMD read of every PTE"));
            }
            // A dirty-tracking round with few pages written since the last (a migration's later
            // rounds): the model reads only the entries its faults touched since its last scan.
            const double Sparse = 0.01;
            using (var m = new ModelRange(o.ScanBytes, Sparse))
            using (var ks = o.Kernel ? new KernelPagemapScan(o.ScanBytes, Sparse) : null)
            {
                m.Protect();
                m.ScanWrittenAndProtect();
                int regions = 0;
                var cycle = TimeCycle(o.Repetitions, m.Pages,
                    [(() => { m.ScanWrittenAndProtect(); regions = m.LastRegionCount; }, m.Dirty), (m.BareRead, null),
                     .. ks == null ? [] : new (Action, Action?)[] { (() => ks.ScanAndProtect(), ks.Dirty) }]);
                results.Add(new("model-scan-written-1pct-reprotect", "MemoryModel.Scan(mask=written, return=written, WP_MATCHING)", m.Pages, cycle[0], cycle[1], ks != null ? cycle[2] : null, null,
                    $"{Sparse:P0} of 1 GiB written by the model's async wp faults since the last scan, {regions} regions per scan; per page of the range; the model reads only the PTEs changed since its last scan (the pages it remembers unwritten are left unread), where the kernel reads every PTE; bare = a SIMD read of every PTE"));
            }
        }

        if (Step(8))
        {
            // Tables a real program left: each committed trace replayed through the engine, then
            // the public raw verbs over every region it left mapped.
            foreach (string trace in CommittedTraces())
            {
                using var t = new ReplayedTables(trace);
                var cycle = TimeCycle(o.Repetitions, t.Pages, [(t.BarePass, t.BarePass), (t.Protect, null), (t.Unprotect, null), (() => t.Scan(), null)]);
                string what = $"{t.Pages} pages in {t.LeafTables} PTE tables left by replaying traces/{t.Name}.nettrace ({t.Operations} operations)";
                results.Add(new($"replayed-{t.Name}-protect", "PageTableOps.ChangeProtection(uffd-wp) per mapped region", t.Pages, cycle[1], cycle[0], null, null, what));
                results.Add(new($"replayed-{t.Name}-unprotect", "PageTableOps.ChangeProtection(uffd-wp resolve) per mapped region", t.Pages, cycle[2], cycle[0], null, null, what));
                results.Add(new($"replayed-{t.Name}-scan", "PageTableOps.Scan(mask=written) per mapped region", t.Pages, cycle[3], cycle[0], null, null, what));
            }
            // The traces themselves, engine vs kernel: every operation through the model's public
            // verbs, and the same operations as system calls on real memory, interleaved, warm.
            foreach (string trace in CommittedTraces())
            {
                var (ops, _) = NettraceReader.ReadAll(trace);
                string name = Path.GetFileNameWithoutExtension(trace);
                // The operations loop only, as `fastpt replay` reports it: each pass's digest of the
                // final state (pagemap reads, table hashes) is verification, not the workload.
                var m = TraceReplay.Measure(ops, o.Kernel ? ["engine", "kernel"] : ["engine"], repetitions: o.Repetitions);
                var perOp = new object();
                var cycle = m.Select(x => new Timing([.. x.Seconds.Select(sec => sec * 1e9 / ops.Count)], perOp)).ToArray();
                results.Add(new($"replay-{name}", "MemoryModel Map/Unmap/Access/Protect/Zap/uffd verbs (trace replay)", ops.Count, cycle[0], null,
                    o.Kernel ? cycle[1] : null, null,
                    $"per operation of traces/{name}.nettrace ({ops.Count} operations, new address spaces each pass; the operations are timed, not the digest of the final state); kernel = the same operations as mmap/munmap/mprotect/madvise/uffd ioctls and page touches on real memory, relocated into a reservation",
                    "ns/operation"));
            }
        }
        if (Step(Array.IndexOf(Steps, "translate-tlb")))
            TranslateTlbStep.Run(o, results);
        if (Step(Array.IndexOf(Steps, "dirty-log")))
            DirtyLogStep.Run(o, results);
        return new BenchReport(environment with { LoadAfter = EnvironmentProbe.LoadAverage() }, results);
    }

    /// <summary>
    /// The committed real traces (traces/*.nettrace above the working directory or the
    /// program); none when FastPT runs outside its repository (the installed tool).
    /// </summary>
    private static string[] CommittedTraces()
    {
        foreach (string from in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(from); dir != null; dir = dir.Parent)
            {
                string traces = Path.Combine(dir.FullName, "traces");
                if (File.Exists(Path.Combine(dir.FullName, "FastPT.sln")) && Directory.Exists(traces))
                    return [.. Directory.GetFiles(traces, "*.nettrace").Order(StringComparer.Ordinal)];
            }
        }
        return [];
    }

    private const string WalkApi = "PageTableOps.ChangeProtection (synthetic uniform tables)";
    private const string ParallelApi = "ParallelWalker.Walk(ChangeProtectionOp) (synthetic uniform tables)";

    /// <summary>The kernel's protect and unprotect of a uffd-wp range as cycle steps (none without a kernel range).</summary>
    private static (Action Run, Action? Reset)[] KernelSteps(KernelUffdRange? k, Action? resetFirst = null) =>
        k == null ? [] : [(k.Protect, resetFirst), (k.Unprotect, null)];

    /// <summary>
    /// Each step of a cycle that leaves the state as it found it (e.g. bare pass, protect,
    /// unprotect), timed one after another in every repetition, so slow phases of a shared
    /// machine hit all of them alike and their per-repetition ratios are paired.
    /// </summary>
    public static Timing[] TimeCycle(int repetitions, long units, params Action[] steps) =>
        TimeCycle(repetitions, units, [.. steps.Select(s => (s, (Action?)null))]);

    /// <summary>
    /// As <see cref="TimeCycle(int, long, Action[])"/>, each step after its own untimed reset
    /// (when not null): (protect, reset) pairs make the state each timed step needs.
    /// </summary>
    public static Timing[] TimeCycle(int repetitions, long units, params (Action Run, Action? Reset)[] steps)
    {
        WarmUp(() =>
        {
            foreach (var (run, reset) in steps)
            {
                reset?.Invoke();
                run();
            }
        });
        var samples = new double[steps.Length][];
        for (int s = 0; s < steps.Length; s++)
            samples[s] = new double[Math.Max(1, repetitions)];
        for (int i = 0; i < samples[0].Length; i++)
        {
            for (int s = 0; s < steps.Length; s++)
            {
                steps[s].Reset?.Invoke();
                long t0 = Stopwatch.GetTimestamp();
                steps[s].Run();
                samples[s][i] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / units;
            }
        }
        var cycle = new object();
        return [.. samples.Select(x => new Timing(x, cycle))];
    }

    /// <summary>ns per unit of <paramref name="run"/> in every repetition, each after an untimed <paramref name="reset"/>.</summary>
    public static Timing Time(BenchOptions o, long units, Action run, Action? reset = null) =>
        Time(o.Repetitions, units, run, reset);

    /// <summary>
    /// Runs <paramref name="cycle"/> until tiered compilation has settled: at least two cycles
    /// and a second, then until 30 cycles and 300 ms have passed in which the JIT compiled
    /// nothing (capped at 10 s). Tiering promotes a method after 30 calls and a quiet period, and
    /// with PGO twice (instrumented code first), so a step whose verb runs once a cycle and whose
    /// cycle takes tens of milliseconds (a scan after a round of writes) needs ~60 cycles; a
    /// fixed second timed the scan in instrumented code, 1.7x slower than it runs once settled.
    /// </summary>
    private static void WarmUp(Action cycle)
    {
        long start = Stopwatch.GetTimestamp(), lastChange = start;
        long compiled = JitInfo.GetCompiledMethodCount();
        for (int i = 0, quiet = 0; ; i++)
        {
            cycle();
            long now = JitInfo.GetCompiledMethodCount();
            if (now != compiled)
            {
                compiled = now;
                quiet = 0;
                lastChange = Stopwatch.GetTimestamp();
            }
            else
            {
                quiet++;
            }
            double total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (total >= 10_000 || i >= 1 && total >= 1000 && quiet >= 30 && Stopwatch.GetElapsedTime(lastChange).TotalMilliseconds >= 300)
                return;
        }
    }

    public static Timing Time(int repetitions, long units, Action run, Action? reset = null)
    {
        WarmUp(() =>
        {
            reset?.Invoke();
            run();
        });
        var samples = new double[Math.Max(1, repetitions)];
        for (int i = 0; i < samples.Length; i++)
        {
            reset?.Invoke();
            long t0 = Stopwatch.GetTimestamp();
            run();
            samples[i] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / units;
        }
        return new Timing(samples, new object());
    }
}
