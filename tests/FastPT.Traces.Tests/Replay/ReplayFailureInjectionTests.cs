using FastPT.Tests.Memory;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;
using FastPT.Traces.Replay;
using FastPT.Traces.Tests.Nettrace;

namespace FastPT.Traces.Tests.Replay;

/// <summary>
/// Replay of a real trace (every space's tables from one failing source) under failure
/// injection: each table allocation the replay makes is refused in turn; the replay names the
/// refused operation, every space's tables stay sound, and resuming the replay at that
/// operation ends exactly as a replay that never failed.
/// </summary>
[Collection(EventPipeCollection.Name)]
public class ReplayFailureInjectionTests
{
    /// <summary>Keeps its model alive when the replayer lets it go: the fixture verifies and disposes it.</summary>
    private sealed class Kept(EngineTarget inner) : IReplayTarget, ITablesTarget
    {
        public long TablesInUse => inner.TablesInUse;
        public ulong Pagemap(ulong address) => inner.Pagemap(address);
        public void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection) => inner.MapRegion(start, length, kind, protection);
        public void Unmap(ulong start, ulong length) => inner.Unmap(start, length);
        public TraceAccessOutcome Access(ulong address, bool write) => inner.Access(address, write);
        public void Protect(ulong start, ulong length, TraceProtection protection) => inner.Protect(start, length, protection);
        public void Zap(ulong start, ulong length) => inner.Zap(start, length);
        public void RegisterWp(ulong start, ulong length, int flags) => inner.RegisterWp(start, length, flags);
        public void WriteProtect(ulong start, ulong length, bool protect) => inner.WriteProtect(start, length, protect);
        public void Unregister(ulong start, ulong length) => inner.Unregister(start, length);
        public void VisitLeaves(Action<ulong, int, ulong> visit) => inner.VisitLeaves(visit);
        public void Dispose() { }
    }

    /// <summary>Where a failed replay resumes, and the targets made so far (by trace space id).</summary>
    private sealed class Progress
    {
        public int Next;
        public readonly Dictionary<int, IReplayTarget> Targets = [];
    }

    private static bool Replay(Injected f, List<TraceOperation> ops)
    {
        var p = (Progress)(f.State ??= new Progress());
        var replayer = new Replayer((space, features) =>
        {
            if (!p.Targets.TryGetValue(space, out var t))
            {
                var engine = f.Own(new EngineTarget(features, f.Failing), e => e.Model.Space);
                p.Targets[space] = t = new Kept(engine);
            }
            return t;
        }, "engine");
        try
        {
            replayer.Run(ops.Skip(p.Next).ToList());
            replayer.Finish();
            return true;
        }
        catch (ReplayException e) when (FailureInjection.AllocationFailure(e) is not null)
        {
            Assert.Contains($"operation #{e.OperationNumber} (", e.Message, StringComparison.Ordinal);
            p.Next += (int)e.OperationNumber - 1; // everything before it was applied
            throw;
        }
    }

    [Theory]
    [InlineData("sqlite3-memory.nettrace", 5592)]
    [InlineData("gcc-compile.nettrace", 4334)]
    public void EveryAllocationOfAReplayCanFailAndBeResumed(string file, int operations)
    {
        var ops = new List<TraceOperation>();
        NettraceReader.Read(Path.Combine(CommittedTracesTests.RepoRoot(), "traces", file), ops.Add);
        Assert.Equal(operations, ops.Count);
        int tried = FailureInjection.Run(new InjectedOp($"replay of {file}", Injected.Empty, f => Replay(f, ops)));
        Assert.True(tried > 20, $"only {tried} allocations in the replay of {file}");
    }
}
