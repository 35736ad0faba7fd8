using BenchmarkDotNet.Attributes;
using FastPT.Benchmarks.Kernel;
using FastPT.Benchmarks.Workloads;
using FastPT.Kernels;

namespace FastPT.Benchmarks.Suites;

/// <summary>
/// Protect / unprotect of a populated range, with the bare load+store pass (baseline), the
/// scalar kernel and the live kernel in the same run. Each benchmark protects then
/// unprotects, so state is the same every invocation; per-page cost = time / (2 x pages).
/// 1 GiB = 2 MiB of PTE tables (L2); 256 GiB = 512 MiB (DRAM).
/// </summary>
[MemoryDiagnoser]
public class ProtectUnprotectPresent
{
    private EngineRange _range = null!;
    private KernelUffdRange? _kernel;

    [Params(1UL << 30, 256UL << 30)]
    public ulong Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _range = new EngineRange(Bytes, populated: true);
        if (Bytes <= 1UL << 30)
            _kernel = new KernelUffdRange(Bytes, populated: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _range.Dispose();
        _kernel?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "bare SIMD load+store x2")]
    public void Bare()
    {
        _range.BarePass();
        _range.BarePass();
    }

    [Benchmark(Description = "engine protect+unprotect")]
    public long Engine() => _range.Protect() + _range.Unprotect();

    [Benchmark(Description = "scalar kernel protect+unprotect")]
    public long Scalar() => _range.ProtectWith(KernelIsa.Scalar) + _range.UnprotectWith(KernelIsa.Scalar);

    [Benchmark(Description = "engine 2 cores protect+unprotect")]
    public long Parallel() => _range.ProtectParallel(2) + _range.UnprotectParallel(2);

    [Benchmark(Description = "kernel UFFDIO_WRITEPROTECT wp+unwp (1 GiB only)")]
    public void Kernel()
    {
        if (_kernel == null)
            return; // no RAM for 256 GiB of real pages; see the 1 GiB row
        _kernel.Protect();
        _kernel.Unprotect();
    }
}

/// <summary>Markers into an empty range, tables allocated on the way; then cleared. Engine vs kernel.</summary>
[MemoryDiagnoser]
public class MarkersEmpty
{
    private const ulong Bytes = 16UL << 30;
    private EngineRange _range = null!;
    private KernelUffdRange _kernel = null!;

    [GlobalSetup]
    public void Setup()
    {
        _range = new EngineRange(Bytes, populated: false);
        _kernel = new KernelUffdRange(Bytes, populated: false);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _range.Dispose();
        _kernel.Dispose();
    }

    [Benchmark(Baseline = true, Description = "engine markers incl. tables, then clear, then free")]
    public long Engine()
    {
        long n = _range.Protect() + _range.Unprotect();
        _range.Reset();
        return n;
    }

    [Benchmark(Description = "kernel UFFDIO_WRITEPROTECT on empty shmem, unprotect, remap")]
    public void Kernel()
    {
        _kernel.Protect();
        _kernel.Unprotect();
        _kernel.Remap();
    }
}

/// <summary>PAGEMAP_SCAN written pages + re-protect, 10 % written: engine vs kernel (dirtying included on both sides).</summary>
[MemoryDiagnoser]
public class ScanWrittenReprotect
{
    private const ulong Bytes = 1UL << 30;
    private EngineScan _engine = null!;
    private KernelPagemapScan _kernel = null!;

    [GlobalSetup]
    public void Setup()
    {
        _engine = new EngineScan(Bytes, 0.10);
        _kernel = new KernelPagemapScan(Bytes, 0.10);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.Dispose();
        _kernel.Dispose();
    }

    [Benchmark(Baseline = true)]
    public long Engine()
    {
        _engine.Dirty();
        return _engine.ScanAndProtect();
    }

    [Benchmark]
    public long Kernel()
    {
        _kernel.Dirty();
        return _kernel.ScanAndProtect();
    }
}

/// <summary>Translate of random addresses in 1 GiB of 4 KiB pages.</summary>
[MemoryDiagnoser]
public class TranslateRandom
{
    private EngineFaults _faults = null!;

    [GlobalSetup]
    public void Setup() => _faults = new EngineFaults(1UL << 30, 1 << 16);

    [GlobalCleanup]
    public void Cleanup() => _faults.Dispose();

    [Benchmark(OperationsPerInvoke = 1 << 16)]
    public long Translate() => _faults.TranslateAll();
}

/// <summary>
/// One synchronous uffd-wp fault round trip (store faults, message, unprotect one page, store
/// completes): FastPT.Uffd.MemoryModel vs the live kernel. Each invocation re-protects the
/// range first (included in both; one call, small next to the round trips).
/// </summary>
[MemoryDiagnoser]
public class WpFaultRoundTrip
{
    private const int Pages = 1024;
    private EngineUffdFaults _engine = null!;
    private KernelWpFaultRoundTrip _kernel = null!;

    [GlobalSetup]
    public void Setup()
    {
        _engine = new EngineUffdFaults(Pages);
        _kernel = new KernelWpFaultRoundTrip(Pages);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.Dispose();
        _kernel.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Pages, Description = "engine MemoryModel: Access, WriteProtect(page, false), Access")]
    public int Engine()
    {
        _engine.ProtectAll();
        return _engine.RoundTrips();
    }

    [Benchmark(OperationsPerInvoke = Pages, Description = "kernel: memset in a worker, read uffd_msg, UFFDIO_WRITEPROTECT mode 0")]
    public int Kernel()
    {
        _kernel.ProtectAll();
        return _kernel.RoundTrips();
    }
}
