using BenchmarkDotNet.Attributes;
using FastPT.Diagnostics;
using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Benchmarks.Tracing;

/// <summary>
/// What the FastPT EventSource costs on the batch path while no session listens: a
/// write-protect + resolve pair over a populated, registered range, without events
/// (Baseline) and with the guarded event calls the engine makes per operation (Guarded).
/// The bar: Guarded within 2 % of Baseline. On a shared 2-core machine the two means
/// are noisier than that, so GuardsOnly measures the added work by itself.
/// </summary>
[MemoryDiagnoser]
public class TracingOverheadBenchmarks
{
    private const ulong Base = 0x7f00_0000_0000;
    private MemoryModel _model = null!;
    private readonly FlushPlan _flush = new();
    private ulong _length;

    /// <summary>Pages per operation: small batches show a fixed per-call cost most.</summary>
    [Params(16, 512)]
    public int Pages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (FastPTEventSource.Log.IsEnabled())
            throw new InvalidOperationException("a listener has the FastPT EventSource enabled; this benchmark measures the disabled cost");
        _length = (ulong)Pages << 12;
        _model = new MemoryModel();
        _model.Map(Base, _length, Backing.Anon, MemoryProtection.ReadWrite);
        _model.RegisterWriteProtect(Base, _length, new FlushPlan());
        for (ulong va = Base; va < Base + _length; va += 4096)
            _model.Access(va, write: true, Flushed());
    }

    /// <summary>The plan for the next call, emptied: a real embedder would invalidate these ranges first.</summary>
    private FlushPlan Flushed()
    {
        _flush.Clear();
        return _flush;
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark(Baseline = true)]
    public long Baseline()
    {
        long changed = _model.WriteProtect(Base, _length, protect: true, Flushed()).EntriesChanged;
        changed += _model.WriteProtect(Base, _length, protect: false, Flushed()).EntriesChanged;
        return changed;
    }

    [Benchmark]
    public long Guarded()
    {
        var log = FastPTEventSource.Log;
        var r = _model.WriteProtect(Base, _length, protect: true, Flushed());
        if (log.UffdEnabled())
            log.WriteProtect(1, Base, _length, 1, 0, r.EntriesChanged, r.TablesAllocated);
        long changed = r.EntriesChanged;
        r = _model.WriteProtect(Base, _length, protect: false, Flushed());
        if (log.UffdEnabled())
            log.WriteProtect(1, Base, _length, 0, 0, r.EntriesChanged, r.TablesAllocated);
        return changed + r.EntriesChanged;
    }

    /// <summary>The two guards alone: their absolute cost, to set against Baseline's time.</summary>
    [Benchmark]
    public int GuardsOnly()
    {
        var log = FastPTEventSource.Log;
        int n = 0;
        if (log.UffdEnabled())
            n++;
        if (log.UffdEnabled())
            n++;
        return n;
    }
}
