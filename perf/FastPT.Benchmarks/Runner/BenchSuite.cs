using System.Diagnostics;
using FastPT.Benchmarks.Kernel;
using FastPT.Benchmarks.Workloads;
using FastPT.Kernels;

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
/// same process, medians of several repetitions, each repetition preceded by an untimed
/// reset so it does the same work.
/// </summary>
public static class BenchSuite
{
    public static readonly string[] Steps =
    [
        "protect/unprotect-present-hot", "protect/unprotect-present-dram", "markers-empty",
        "scan-written-reprotect", "translate-random", "wp-fault-roundtrip", "translate-tlb",
    ];

    public static BenchReport Run(BenchOptions o, Action<string>? progress = null)
    {
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
            {
                // Interleaved so the bare pass and the walks see the same machine (it drifts under load).
                double[] cycle = TimeCycle(o.Repetitions, hot.Pages, hot.BarePass, () => hot.Protect(), () => hot.Unprotect());
                double bare = cycle[0], protect = cycle[1], unprotect = cycle[2];
                double sProtect = Time(o, hot.Pages, () => hot.ProtectWith(KernelIsa.Scalar), () => hot.Unprotect());
                double sUnprotect = Time(o, hot.Pages, () => hot.UnprotectWith(KernelIsa.Scalar), () => hot.Protect());
                double? kProtect = null, kUnprotect = null;
                if (o.Kernel)
                {
                    using var k = new KernelUffdRange(o.HotBytes, populated: true);
                    kProtect = Time(o, k.Pages, k.Protect, k.Unprotect);
                    kUnprotect = Time(o, k.Pages, k.Unprotect, k.Protect);
                }
                int cores = Math.Min(2, Environment.ProcessorCount);
                double[] par = TimeCycle(o.Repetitions, hot.Pages, hot.BarePass, () => hot.Protect(), () => hot.Unprotect(),
                    () => hot.BarePassParallel(cores), () => hot.ProtectParallel(cores), () => hot.UnprotectParallel(cores));
                results.Add(new("protect-present-hot", hot.Pages, protect, kProtect, bare, sProtect));
                results.Add(new("unprotect-present-hot", hot.Pages, unprotect, kUnprotect, bare, sUnprotect));
                results.Add(new($"protect-present-hot-{cores}cores", hot.Pages, par[4], kProtect, par[3], null,
                    $"ParallelWalker over {cores} cores: {par[1] / par[4]:F2}x one core; the bare pass on {cores} threads: {par[0] / par[3]:F2}x one thread (interleaved runs; vs bare = against the {cores}-thread pass)"));
            }
        }

        if (Step(1))
        {
            double? kernelHotProtect = results.Find(r => r.Op == "protect-present-hot")?.KernelNsPerPage;
            double? kernelHotUnprotect = results.Find(r => r.Op == "unprotect-present-hot")?.KernelNsPerPage;
            using (var dram = new EngineRange(o.DramBytes, populated: true))
            {
                string kNote = "kernel figure from the hot-range run (this machine has no RAM for the same VA of real pages; the kernel's per-page cost is bookkeeping, not table traffic)";
                double[] cycle = TimeCycle(o.Repetitions, dram.Pages, dram.BarePass, () => dram.Protect(), () => dram.Unprotect());
                double bare = cycle[0], protect = cycle[1], unprotect = cycle[2];
                double sProtect = Time(Math.Min(o.Repetitions, 3), dram.Pages, () => dram.ProtectWith(KernelIsa.Scalar), () => dram.Unprotect());
                int cores = Math.Min(2, Environment.ProcessorCount);
                double[] parCycle = TimeCycle(o.Repetitions, dram.Pages, dram.BarePass, () => dram.Protect(), () => dram.Unprotect(),
                    () => dram.BarePassParallel(cores), () => dram.ProtectParallel(cores), () => dram.UnprotectParallel(cores));
                double par = parCycle[4], barePar = parCycle[3], oneCore = parCycle[1], bareOne = parCycle[0];
                results.Add(new("protect-present-dram", dram.Pages, protect, kernelHotProtect, bare, sProtect, kNote));
                results.Add(new("unprotect-present-dram", dram.Pages, unprotect, kernelHotUnprotect, bare, null, kNote));
                results.Add(new($"protect-present-dram-{cores}cores", dram.Pages, par, kernelHotProtect, barePar, null,
                    $"ParallelWalker over {cores} cores: {oneCore / par:F2}x one core; the bare pass on {cores} threads: {bareOne / barePar:F2}x one thread (interleaved runs; vs bare = against the {cores}-thread pass)"));
            }
        }

        if (Step(2))
        {
            using (var empty = new EngineRange(o.MarkerBytes, populated: false))
            {
                double markers = Time(o, empty.Pages, () => empty.Protect(), empty.Reset);
                double clear = Time(o, empty.Pages, () => empty.Unprotect(), () => empty.Protect());
                double? kMarkers = null, kClear = null;
                if (o.Kernel)
                {
                    using var k = new KernelUffdRange(o.MarkerBytes, populated: false);
                    kMarkers = Time(o, k.Pages, k.Protect, k.Remap);
                    kClear = Time(o, k.Pages, k.Unprotect, k.Protect);
                }
                results.Add(new("markers-empty", empty.Pages, markers, kMarkers, null, null, "includes allocating and zeroing the PTE tables (both sides)"));
                results.Add(new("markers-clear", empty.Pages, clear, kClear, null));
            }
        }

        if (Step(3))
        {
            using (var scan = new EngineScan(o.ScanBytes, o.WrittenFraction))
            {
                double s = Time(o, scan.Pages, () => scan.ScanAndProtect(), scan.Dirty);
                double? k = null;
                if (o.Kernel)
                {
                    using var ks = new KernelPagemapScan(o.ScanBytes, o.WrittenFraction);
                    k = Time(o, ks.Pages, () => ks.ScanAndProtect(), ks.Dirty);
                }
                results.Add(new("scan-written-reprotect", scan.Pages, s, k, null, null,
                    $"{o.WrittenFraction:P0} of pages written; per page of the range"));
            }
        }

        if (Step(4))
        {
            using (var f = new EngineFaults(o.HotBytes, o.TranslateCount))
            {
                double t = Time(o, f.Count, () => f.TranslateAll());
                results.Add(new("translate-random", f.Count, t, null, null, null, "per translation of a random address in 1 GiB of 4 KiB pages"));
            }
        }

        if (Step(5))
        {
            using (var f = new EngineUffdFaults(o.FaultCount))
            {
                double t = Time(o, f.Pages, () => f.RoundTrips(), f.ProtectAll);
                double? k = null;
                if (o.Kernel)
                {
                    using var kf = new KernelWpFaultRoundTrip(o.FaultCount);
                    k = Time(o, kf.Pages, () => kf.RoundTrips(), kf.ProtectAll);
                }
                results.Add(new("wp-fault-roundtrip", f.Pages, t, k, null, null,
                    "per round trip: a store to a write-protected shmem page faults (WRITE|WP message), the handler unprotects that page, the store completes; engine = FastPT.Uffd.MemoryModel, kernel = worker thread in memset + UFFDIO_WRITEPROTECT mode 0"));
            }
        }
        if (Step(Array.IndexOf(Steps, "translate-tlb")))
            TranslateTlbStep.Run(o, results);
        return new BenchReport(CpuModel(), KernelIsas.Name(KernelIsas.Selected), results);
    }

    /// <summary>
    /// Median ns per unit of each step of a cycle that leaves the state as it found it (e.g.
    /// bare pass, protect, unprotect), the steps timed one after another in every repetition,
    /// so slow phases of a shared machine hit all of them alike and same-run ratios hold.
    /// </summary>
    public static double[] TimeCycle(int repetitions, long units, params Action[] steps)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 2 || Stopwatch.GetElapsedTime(start).TotalMilliseconds < 1000; i++)
            foreach (var step in steps)
                step();
        var samples = new double[steps.Length][];
        for (int s = 0; s < steps.Length; s++)
            samples[s] = new double[Math.Max(1, repetitions)];
        for (int i = 0; i < samples[0].Length; i++)
        {
            for (int s = 0; s < steps.Length; s++)
            {
                long t0 = Stopwatch.GetTimestamp();
                steps[s]();
                samples[s][i] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / units;
            }
        }
        return [.. samples.Select(x => { Array.Sort(x); return x[x.Length / 2]; })];
    }

    /// <summary>Median ns per unit of <paramref name="run"/>, each repetition after an untimed <paramref name="reset"/>.</summary>
    public static double Time(BenchOptions o, long units, Action run, Action? reset = null) =>
        Time(o.Repetitions, units, run, reset);

    public static double Time(int repetitions, long units, Action run, Action? reset = null)
    {
        // Warm up for at least a second: tiered compilation promotes a method to optimised
        // code only after 30 calls plus a 100 ms quiet period (longer on a loaded machine, where
        // the background JIT waits for a core), and a 1 GiB walk takes well under 1 ms. A cap
        // on iterations instead of time left some runs timing Tier-0 code.
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 2 || Stopwatch.GetElapsedTime(start).TotalMilliseconds < 1000; i++)
        {
            reset?.Invoke();
            run();
        }
        var samples = new double[Math.Max(1, repetitions)];
        for (int i = 0; i < samples.Length; i++)
        {
            reset?.Invoke();
            long t0 = Stopwatch.GetTimestamp();
            run();
            samples[i] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / units;
        }
        Array.Sort(samples);
        return samples[samples.Length / 2];
    }

    public static string CpuModel()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal))
                    return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}
