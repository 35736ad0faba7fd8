using FastPT.Diagnostics;
using FastPT.Traces.Operations;
using FastPT.Traces.Replay;

namespace FastPT.Traces.Tests.Replay;

/// <summary>
/// Wraps a target and emits FastPT events around every call, with results, exactly where the
/// engine's MemoryModel will emit them (see the report to the lead): so a scenario run through it
/// produces the trace the engine will produce.
/// </summary>
internal sealed class TracingTarget(int space, IReplayTarget inner) : IReplayTarget
{
    private static FastPTEventSource Log => FastPTEventSource.Log;

    public static TracingTarget Create(int space, int features, IReplayTarget inner)
    {
        Log.SpaceCreated(space, 0, features, "test");
        return new TracingTarget(space, inner);
    }

    public long TablesInUse => inner.TablesInUse;
    public IEnumerable<(ulong Start, ulong Length)> Regions => inner.Regions;
    public void VisitLeaves(Action<ulong, int, ulong> visit) => inner.VisitLeaves(visit);

    public void Dispose()
    {
        Log.SpaceDisposed(space, inner.TablesInUse);
        inner.Dispose();
    }

    public void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection)
    {
        inner.MapRegion(start, length, kind, protection);
        if (Log.RegionsEnabled())
            Log.MapRegion(space, start, length, (int)kind, (int)protection, 0);
    }

    public void Unmap(ulong start, ulong length)
    {
        long before = inner.TablesInUse;
        inner.Unmap(start, length);
        if (Log.RegionsEnabled())
            Log.Unmap(space, start, length, 0, FastPTEventSource.Unknown, before - inner.TablesInUse);
    }

    public TraceAccessOutcome Access(ulong address, bool write)
    {
        long before = inner.TablesInUse;
        TraceAccessOutcome o = inner.Access(address, write);
        if (Log.AccessEnabled())
            Log.Access(space, address, write ? 1 : 0, (int)o, inner.TablesInUse - before);
        return o;
    }

    public void Protect(ulong start, ulong length, TraceProtection protection)
    {
        inner.Protect(start, length, protection);
        if (Log.RegionsEnabled())
            Log.Protect(space, start, length, (int)protection, 0, FastPTEventSource.Unknown, 0);
    }

    public void Zap(ulong start, ulong length)
    {
        inner.Zap(start, length);
        if (Log.RegionsEnabled())
            Log.Zap(space, start, length, 0, FastPTEventSource.Unknown, 0);
    }

    public void RegisterWp(ulong start, ulong length, int flags)
    {
        inner.RegisterWp(start, length, flags);
        if (Log.UffdEnabled())
            Log.RegisterWp(space, start, length, flags, 0);
    }

    public void WriteProtect(ulong start, ulong length, bool protect)
    {
        inner.WriteProtect(start, length, protect);
        if (Log.UffdEnabled())
            Log.WriteProtect(space, start, length, protect ? 1 : 0, 0, FastPTEventSource.Unknown, 0);
    }

    public void Unregister(ulong start, ulong length)
    {
        inner.Unregister(start, length);
        if (Log.UffdEnabled())
            Log.Unregister(space, start, length, 0);
    }
}
