using FastPT.Diagnostics;
using FastPT.Traces.Operations;
using FastPT.Traces.Replay;

namespace FastPT.Traces.Tests.Replay;

/// <summary>
/// Wraps a target and emits FastPT events around every call, exactly where the engine's
/// MemoryModel emits them: so a scenario run through it produces the trace the engine would.
/// Counts the target cannot give are -1 (unknown), as in perf-derived traces.
/// </summary>
internal sealed class TracingTarget(int space, IReplayTarget inner) : IReplayTarget
{
    private static FastPTEventSource Log => FastPTEventSource.Log;

    public static TracingTarget Create(int space, int features, IReplayTarget inner)
    {
        Log.SpaceCreated(space, 0, features, "test");
        return new TracingTarget(space, inner);
    }

    private long Tables => inner is ITablesTarget t ? t.TablesInUse : FastPTEventSource.Unknown;

    public ulong Pagemap(ulong address) => inner.Pagemap(address);

    public void Dispose()
    {
        Log.SpaceDisposed(space, Tables);
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
        long before = Tables;
        inner.Unmap(start, length);
        if (Log.RegionsEnabled())
            Log.Unmap(space, start, length, 0, FastPTEventSource.Unknown, inner is ITablesTarget ? before - Tables : FastPTEventSource.Unknown);
    }

    public TraceAccessOutcome Access(ulong address, bool write)
    {
        long before = Tables;
        TraceAccessOutcome o = inner.Access(address, write);
        if (Log.AccessEnabled())
            Log.Access(space, address, write ? 1 : 0, (int)o, inner is ITablesTarget ? Tables - before : FastPTEventSource.Unknown);
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
