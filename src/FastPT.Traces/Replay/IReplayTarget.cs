using FastPT.Traces.Operations;

namespace FastPT.Traces.Replay;

/// <summary>
/// One address space a trace replays into: the verbs of the FastPT events. Two implementations:
/// <see cref="EngineTarget"/> (FastPT's MemoryModel) and <see cref="KernelTarget"/> (the live
/// kernel, on real memory of this process). Addresses and lengths are page-aligned; ranges never
/// cross an unmapped hole for Protect/Zap (the importer splits them), but Unmap may cover holes.
/// An operation the target refuses throws InvalidOperationException (or a SyscallException)
/// before changing anything.
/// </summary>
public interface IReplayTarget : IDisposable
{
    void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection);
    void Unmap(ulong start, ulong length);
    /// <summary>
    /// One load or store through the fault path. The engine leaves an access that takes a wp fault
    /// undone (a userfaultfd server resolves it and the access is made again); the kernel target
    /// resolves the fault itself, as a blocked store must complete.
    /// </summary>
    TraceAccessOutcome Access(ulong address, bool write);
    void Protect(ulong start, ulong length, TraceProtection protection);
    void Zap(ulong start, ulong length);
    void RegisterWp(ulong start, ulong length, int flags);
    void WriteProtect(ulong start, ulong length, bool protect);
    void Unregister(ulong start, ulong length);

    /// <summary>The /proc/pid/pagemap entry of the page holding address (<see cref="FastPT.Uffd.PagemapBits"/>).</summary>
    ulong Pagemap(ulong address);
}

/// <summary>A target with page tables of its own, which a replay can count and fingerprint.</summary>
public interface ITablesTarget
{
    /// <summary>Page tables (all levels, root included) this space holds now.</summary>
    long TablesInUse { get; }

    /// <summary>Every non-zero leaf entry in walk (address) order: (virtual address, level 1..3, raw value).</summary>
    void VisitLeaves(Action<ulong, int, ulong> visit);
}

/// <summary>Makes one target per address space in a trace, with that space's userfaultfd features.</summary>
public delegate IReplayTarget ReplayTargetFactory(int space, TraceFeatures features);
