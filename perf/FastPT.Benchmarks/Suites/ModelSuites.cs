using BenchmarkDotNet.Attributes;
using FastPT.Benchmarks.Kernel;
using FastPT.Benchmarks.Workloads;

namespace FastPT.Benchmarks.Suites;

/// <summary>
/// The public model verb a user calls, MemoryModel.WriteProtect, on 1 GiB that the model's own
/// write faults populated (async uffd-wp), against the bare load+store pass over the same
/// tables (baseline) and the same change on the synthetic uniform tables. Each benchmark
/// protects then unprotects, so state is the same every invocation.
/// </summary>
[MemoryDiagnoser]
public class ModelWriteProtectFaulted
{
    private const ulong Bytes = 1UL << 30;
    private ModelRange _model = null!;
    private EngineRange _synthetic = null!;

    [GlobalSetup]
    public void Setup()
    {
        _model = new ModelRange(Bytes, writtenFraction: 0);
        _synthetic = new EngineRange(Bytes, populated: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _synthetic.Dispose();
    }

    [Benchmark(Baseline = true, Description = "bare SIMD load+store x2 (fault-built tables)")]
    public void Bare()
    {
        _model.BarePass();
        _model.BarePass();
    }

    [Benchmark(Description = "MemoryModel.WriteProtect protect+unprotect (fault-built tables)")]
    public long Model() => _model.Protect() + _model.Unprotect();

    [Benchmark(Description = "PageTableOps.ChangeProtection protect+unprotect (synthetic uniform tables)")]
    public long Synthetic() => _synthetic.Protect() + _synthetic.Unprotect();
}

/// <summary>
/// A dirty-tracking round through the public verb: the model's write faults dirty a fraction
/// of 1 GiB of async uffd-wp memory, then MemoryModel.Scan (mask=written, return=written,
/// WP_MATCHING) reports and re-protects them; the kernel side does the same on real memory
/// (page writes, then PAGEMAP_SCAN). The faults are inside the timing on both sides.
/// </summary>
[MemoryDiagnoser]
public class ModelScanWrittenRound
{
    private const ulong Bytes = 1UL << 30;
    private ModelRange _model = null!;
    private KernelPagemapScan _kernel = null!;

    [Params(0.10, 0.01)]
    public double Written { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = new ModelRange(Bytes, Written);
        _model.Protect();
        _model.ScanWrittenAndProtect();
        _kernel = new KernelPagemapScan(Bytes, Written);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _kernel.Dispose();
    }

    [Benchmark(Baseline = true, Description = "model faults + MemoryModel.Scan WP_MATCHING")]
    public long Model()
    {
        _model.Dirty();
        return _model.ScanWrittenAndProtect();
    }

    [Benchmark(Description = "kernel page writes + PAGEMAP_SCAN WP_MATCHING")]
    public long Kernel()
    {
        _kernel.Dirty();
        return _kernel.ScanAndProtect();
    }
}
