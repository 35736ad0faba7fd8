using BenchmarkDotNet.Attributes;
using FastPT.Benchmarks.Workloads;

namespace FastPT.Benchmarks.Suites;

/// <summary>
/// Translation for emulators, per address, in 1 GiB of 4 KiB pages: single walks (the
/// baseline), batch walks, software TLB hits and misses (targets: hit ≤ 3 ns, random miss
/// ≤ 20 ns, batch ≥ 2× faster per address than single calls).
/// </summary>
[MemoryDiagnoser]
public class TranslateTlb
{
    private const int N = 1 << 16;
    private EngineTlb _w = null!;

    [GlobalSetup]
    public void Setup() => _w = new EngineTlb(1UL << 30, N);

    [GlobalCleanup]
    public void Cleanup() => _w.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "Translate, one call per random address")]
    public long Single() => _w.Single();

    [Benchmark(OperationsPerInvoke = N, Description = "Translate, batches of 1,024 random addresses")]
    public long Batch() => _w.Batch();

    [Benchmark(OperationsPerInvoke = N, Description = "SoftwareTlb hit")]
    public long TlbHit() => _w.TlbHits();

    [Benchmark(OperationsPerInvoke = N, Description = "SoftwareTlb miss (random address: walk + fill)")]
    public long TlbMiss() => _w.TlbMisses();
}
