using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;
using FastPT.Traces.Replay;
using FastPT.Traces.Tests.Nettrace;

namespace FastPT.Traces.Tests.Replay;

[Collection(EventPipeCollection.Name)]
public class ReplayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ReplayResult Replay(IEnumerable<TraceOperation> ops, long snapshotEvery = 0, string target = "engine")
    {
        var r = new Replayer(TraceReplay.Targets[target], target, snapshotEvery);
        foreach (var op in ops)
            r.Add(op);
        return r.Finish();
    }

    [Theory]
    [InlineData("engine")]
    [InlineData("reference")]
    public void The_same_trace_replays_to_the_same_digest_twice(string target)
    {
        string path = Path.Combine(_dir, "t.nettrace");
        NettraceWriter.Record(path, () => NettraceWriter.Emit(NettraceRoundTripTests.Sample(3000, seed: 7)));
        var (a, _) = TraceReplay.Run(path, target, 0);
        var (b, _) = TraceReplay.Run(path, target, 0);
        Assert.Equal(a.DigestHex, b.DigestHex);
        Assert.Equal(a.TablesInUse, b.TablesInUse);
        Assert.Equal(a.PagesTouched, b.PagesTouched);
        Assert.True(a.PagesTouched > 100);
        Assert.Equal(a.Digest, Replay(NettraceRoundTripTests.Sample(3000, seed: 7), target: target).Digest);
    }

    [Fact]
    public void A_refused_operation_is_named_and_Dispose_releases_the_targets()
    {
        var created = new List<DisposeCountingTarget>();
        var replayer = new Replayer((space, features) =>
        {
            var t = new DisposeCountingTarget(new EngineTarget(features));
            created.Add(t);
            return t;
        }, "engine");
        replayer.Add(TraceOperation.SpaceCreated(1, pid: 100));
        replayer.Add(TraceOperation.Map(1, 0x10000, 0x2000, TraceRegionKind.Anon, TraceProtection.ReadWrite));
        replayer.Add(TraceOperation.Map(1, 0x11000, 0x1000, TraceRegionKind.Anon, TraceProtection.ReadWrite));
        var e = Assert.Throws<ReplayException>(() => replayer.Finish());
        Assert.StartsWith("operation #3 (", e.Message);
        Assert.Contains("refused by the engine target", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);
        var only = Assert.Single(created);
        Assert.Equal(0, only.Disposals);
        replayer.Dispose();
        Assert.Equal(1, only.Disposals);
        replayer.Dispose();
        Assert.Equal(1, only.Disposals);
    }

    private sealed class DisposeCountingTarget(IReplayTarget inner) : IReplayTarget
    {
        public int Disposals { get; private set; }
        public long TablesInUse => inner.TablesInUse;
        public IEnumerable<(ulong Start, ulong Length)> Regions => inner.Regions;
        public void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection) => inner.MapRegion(start, length, kind, protection);
        public void Unmap(ulong start, ulong length) => inner.Unmap(start, length);
        public TraceAccessOutcome Access(ulong address, bool write) => inner.Access(address, write);
        public void Protect(ulong start, ulong length, TraceProtection protection) => inner.Protect(start, length, protection);
        public void Zap(ulong start, ulong length) => inner.Zap(start, length);
        public void RegisterWp(ulong start, ulong length, int flags) => inner.RegisterWp(start, length, flags);
        public void WriteProtect(ulong start, ulong length, bool protect) => inner.WriteProtect(start, length, protect);
        public void Unregister(ulong start, ulong length) => inner.Unregister(start, length);
        public void VisitLeaves(Action<ulong, int, ulong> visit) => inner.VisitLeaves(visit);

        public void Dispose()
        {
            Disposals++;
            inner.Dispose();
        }
    }

    [Fact]
    public void The_digest_sees_a_one_entry_difference()
    {
        var ops = NettraceRoundTripTests.Sample(3000, seed: 7);
        var baseline = Replay(ops);
        int i = ops.FindLastIndex(o => o.Kind == TraceOpKind.Access);
        var zapped = new List<TraceOperation>(ops);
        zapped.Insert(i + 1, TraceOperation.Zap(1, ops[i].Start, 0x1000));
        Assert.NotEqual(baseline.Digest, Replay(zapped).Digest);
        Assert.NotEqual(baseline.Digest, Replay(NettraceRoundTripTests.Sample(3000, seed: 8)).Digest);
    }

    [Theory]
    [InlineData("engine")]
    [InlineData("reference")]
    public void A_scenario_recorded_through_the_EventSource_replays_to_the_same_final_tables(string target)
    {
        // Drive targets as a program would, with the FastPT EventSource on (as the engine emits).
        var live = new SortedDictionary<int, IReplayTarget>();
        string path = Path.Combine(_dir, "scenario.nettrace");
        NettraceWriter.Record(path, () =>
        {
            var rng = new Random(11);
            for (int space = 1; space <= 2; space++)
            {
                var inner = TraceReplay.Targets[target](space, TraceFeatures.WpUnpopulated);
                // The engine emits its own events; the reference model gets a tracing wrapper.
                IReplayTarget t = inner is EngineTarget ? inner : TracingTarget.Create(space, (int)TraceFeatures.WpUnpopulated, inner);
                live[inner is EngineTarget e ? e.Model.TraceSpace : space] = inner;
                ulong b = 0x1000_0000_0000UL * (ulong)space;
                t.MapRegion(b, 0x20_0000, TraceRegionKind.File, TraceProtection.ReadWrite);
                t.MapRegion(b + 0x40_0000, 0x20_0000, TraceRegionKind.Anon, TraceProtection.ReadWrite);
                t.RegisterWp(b, 0x20_0000, 0);
                t.RegisterWp(b + 0x40_0000, 0x20_0000, 1);
                for (int i = 0; i < 4000; i++)
                {
                    ulong va = (rng.Next(2) == 0 ? b : b + 0x40_0000) + ((ulong)rng.Next(512) << 12);
                    switch (rng.Next(40))
                    {
                        case 0: t.WriteProtect(b, 0x20_0000, true); break;
                        case 1: t.WriteProtect(b + 0x40_0000, 0x20_0000, true); break;
                        case 2: t.Zap(va, 0x3000); break;
                        case 3: t.Protect(va, 0x1000, TraceProtection.Read); break;
                        case 4: t.Protect(va, 0x1000, TraceProtection.ReadWrite); break;
                        default:
                            bool write = rng.Next(3) != 0;
                            if (t.Access(va, write) == TraceAccessOutcome.WpFault)
                            {
                                // A userfaultfd server's resolve, then the retry.
                                t.WriteProtect(va, 0x1000, false);
                                t.Access(va, write);
                            }
                            break;
                    }
                }
            }
        });
        ulong expected = TableDigest.Of(live.Select(kv => (kv.Key, kv.Value)));
        long tables = live.Values.Sum(t => t.TablesInUse);
        foreach (var t in live.Values)
            t.Dispose();
        var (replayed, summary) = TraceReplay.Run(path, target, 0);
        Assert.Equal(tables, replayed.TablesInUse);
        Assert.Equal(expected.ToString("x16"), replayed.DigestHex);
        Assert.True(replayed.WpFaults > 10, $"the scenario should exercise wp faults, saw {replayed.WpFaults}");
        Assert.Equal(2, replayed.Spaces);
        Assert.True(summary.FastPTEvents > 8000);
    }

    [Theory]
    [InlineData("engine")]
    [InlineData("reference")]
    public void The_snapshot_overlay_protects_copies_and_resolves(string target)
    {
        var ops = NettraceRoundTripTests.Sample(5000, seed: 3).Where(o => o.Kind is not (TraceOpKind.RegisterWp or TraceOpKind.WriteProtect or TraceOpKind.Unregister)).ToList();
        var plain = Replay(ops, target: target);
        var snap = Replay(ops, snapshotEvery: 500, target: target);
        Assert.Equal(0, plain.WpFaults);
        Assert.Equal(ops.Count(o => o.Kind is not (TraceOpKind.SpaceCreated or TraceOpKind.SpaceDisposed)) / 500, snap.Snapshots);
        Assert.True(snap.SnapshotCopies > 100, $"copies: {snap.SnapshotCopies}");
        Assert.Equal(snap.WpFaults, snap.SnapshotCopies);
        Assert.Equal(snap.Digest, Replay(ops, snapshotEvery: 500, target: target).Digest);
        Assert.NotEqual(plain.Digest, snap.Digest);
    }
}
