using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// The engine side of a synchronous uffd-wp fault round trip through the userfaultfd model,
/// the same steps as <see cref="Kernel.KernelWpFaultRoundTrip"/>: a write Access to each page
/// of a write-protected, registered shmem range faults (WriteProtectFault with the WRITE|WP
/// message), the handler resolves that page (WriteProtect(page, false)), and the retried
/// Access completes.
/// </summary>
public sealed class EngineUffdFaults : IDisposable
{
    public const ulong Base = 1UL << 40;
    private readonly MemoryModel _model = new();
    private readonly FlushPlan _flush = new();

    public EngineUffdFaults(int pages)
    {
        if (pages < 1)
            throw new ArgumentOutOfRangeException(nameof(pages), pages, "need at least one page");
        Pages = pages;
        ulong bytes = (ulong)pages << 12;
        _model.Map(Base, bytes, Backing.File, MemoryProtection.ReadWrite);
        _model.RegisterWriteProtect(Base, bytes, new FlushPlan());
        for (int i = 0; i < pages; i++)
            _model.Access(Base + ((ulong)i << 12), write: true, Flushed()); // populate, as MADV_POPULATE_WRITE does
    }

    public int Pages { get; }

    /// <summary>Write-protects every page again (not timed).</summary>
    public void ProtectAll() => _model.WriteProtect(Base, (ulong)Pages << 12, protect: true, Flushed());

    /// <summary>Fault, resolve, retry for every page; throws if the model does not behave like the kernel.</summary>
    public int RoundTrips()
    {
        for (int i = 0; i < Pages; i++)
        {
            ulong va = Base + ((ulong)i << 12);
            var first = _model.Access(va, write: true, Flushed());
            if (first.Outcome != AccessOutcome.WriteProtectFault || first.Message.Address != va
                || first.Message.Flags != (UffdMessage.FlagWrite | UffdMessage.FlagWp))
                throw new InvalidOperationException($"page {i}: expected a WRITE|WP fault at 0x{va:X}, got {first}");
            _model.WriteProtect(va, 4096, protect: false, Flushed());
            var retry = _model.Access(va, write: true, Flushed());
            if (retry.Outcome != AccessOutcome.Completed)
                throw new InvalidOperationException($"page {i}: the store at 0x{va:X} still does not complete after the resolve: {retry}");
        }
        return Pages;
    }

    /// <summary>The plan for the next call, emptied: a real embedder would invalidate these ranges first.</summary>
    private FlushPlan Flushed()
    {
        _flush.Clear();
        return _flush;
    }

    public void Dispose() => _model.Dispose();
}
