using FastPT.Traces.Operations;

namespace FastPT.Traces.Replay;

/// <summary>
/// One address space a trace replays into: the verbs of the FastPT events. The engine's
/// process-memory model implements this through a few-line adapter; <see cref="ReferenceTarget"/>
/// is a small independent model used until then and as a cross-check.
/// Addresses and lengths are page-aligned; ranges never cross an unmapped hole for
/// Protect/Zap (the importer splits them), but Unmap may cover holes.
/// </summary>
public interface IReplayTarget : IDisposable
{
    void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection);
    void Unmap(ulong start, ulong length);
    /// <summary>One load or store through the fault path. A wp fault leaves the access undone.</summary>
    TraceAccessOutcome Access(ulong address, bool write);
    void Protect(ulong start, ulong length, TraceProtection protection);
    void Zap(ulong start, ulong length);
    void RegisterWp(ulong start, ulong length, int flags);
    void WriteProtect(ulong start, ulong length, bool protect);
    void Unregister(ulong start, ulong length);

    /// <summary>Page tables (all levels, root included) this space holds now.</summary>
    long TablesInUse { get; }

    /// <summary>The regions mapped now, in address order (the snapshot overlay protects them).</summary>
    IEnumerable<(ulong Start, ulong Length)> Regions { get; }

    /// <summary>Every non-zero leaf entry in walk (address) order: (virtual address, level 1..3, raw value).</summary>
    void VisitLeaves(Action<ulong, int, ulong> visit);
}

/// <summary>Makes one target per address space in a trace, with that space's userfaultfd features.</summary>
public delegate IReplayTarget ReplayTargetFactory(int space, TraceFeatures features);
