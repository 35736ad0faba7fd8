using FastPT.Benchmarks.Workloads;

namespace FastPT.Benchmarks.Runner;

/// <summary>
/// The `translate-tlb` step of `fastpt bench`: batch Translate, software TLB hit and miss,
/// timed in one interleaved cycle with single Translate calls so the ratios are same-run.
/// </summary>
public static class TranslateTlbStep
{
    public static void Run(BenchOptions o, List<BenchResult> results)
    {
        using var t = new EngineTlb(o.HotBytes, o.TranslateCount);
        // Each step is a few calls of a long loop: give tiered compilation time to optimise
        // the walk and the TLB (TimeCycle's own second of warm-up is shared by four steps here).
        var warm = System.Diagnostics.Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 3000)
        {
            t.Single();
            t.Batch();
            t.TlbHits();
            t.TlbMisses();
        }
        var c = BenchSuite.TimeCycle(o.Repetitions, t.Count, () => t.Single(), () => t.Batch(), () => t.TlbHits(), () => t.TlbMisses());
        Timing single = c[0], batch = c[1], hit = c[2], miss = c[3];
        results.Add(new("translate-batch", "AddressSpace.Translate(batch)", t.Count, batch, null, null, null,
            $"per address: batch Translate of random addresses in 1 GiB of 4 KiB pages, 1,024 per call; {single.Median / batch.Median:F2}x faster than single calls ({single.Median:F1} ns, same run; target >= 2x)", "ns/translation"));
        results.Add(new("tlb-hit", "SoftwareTlb.Translate (hit)", t.Count, hit, null, null, null, "SoftwareTlb.Translate of an address it holds (256 pages, reads; target <= 3 ns)", "ns/translation"));
        results.Add(new("tlb-miss", "SoftwareTlb.Translate (miss)", t.Count, miss, null, null, null,
            $"SoftwareTlb.Translate of a random address in 1 GiB: walk + fill (target <= 20 ns); a single Translate walk costs {single.Median:F1} ns in the same run", "ns/translation"));
    }
}
