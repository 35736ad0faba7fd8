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

    internal static ReplayResult Replay(List<TraceOperation> ops, long snapshotEvery = 0, string target = "engine") =>
        TraceReplay.Replay(ops, target, TraceReplay.Factory(target, ops), snapshotEvery);

    internal static void SkipWithoutKernel(string target) =>
        Skip.If(target == "kernel" && !File.Exists("/proc/self/pagemap"), "the kernel target needs Linux (/proc/self/pagemap, userfaultfd)");

    [SkippableTheory]
    [InlineData("engine")]
    [InlineData("kernel")]
    public void The_same_trace_replays_to_the_same_digests_twice(string target)
    {
        SkipWithoutKernel(target);
        string path = Path.Combine(_dir, "t.nettrace");
        NettraceWriter.Record(path, () => NettraceWriter.Emit(NettraceRoundTripTests.Sample(3000, seed: 7)));
        var (a, _) = TraceReplay.Run(path, target, 0);
        var (b, _) = TraceReplay.Run(path, target, 0);
        Assert.Equal(a.DigestHex, b.DigestHex);
        Assert.Equal(a.PagemapDigestHex, b.PagemapDigestHex);
        Assert.Equal(a.TablesInUse, b.TablesInUse);
        Assert.Equal(a.PagesTouched, b.PagesTouched);
        Assert.True(a.PagesTouched > 100);
        var direct = Replay(NettraceRoundTripTests.Sample(3000, seed: 7), target: target);
        Assert.Equal((a.Digest, a.PagemapDigest), (direct.Digest, direct.PagemapDigest));
        Assert.Equal(target == "engine", a.Digest is not null);
    }

    [SkippableFact]
    public void Without_a_resolve_in_the_trace_the_kernel_target_resolves_its_faults_and_the_engine_does_not()
    {
        // The sample write-protects but never resolves the stores that fault: the engine leaves
        // them undone (the page stays protected and faults again), a blocked store on the kernel
        // must complete, so the kernel target resolves it. Traces with resolves (an engine-recorded
        // program's, the snapshot overlay's) end in the same state on both: the tests below.
        SkipWithoutKernel("kernel");
        var ops = NettraceRoundTripTests.Sample(3000, seed: 7);
        var engine = Replay(ops);
        var kernel = Replay(ops, target: "kernel");
        Assert.True(kernel.WpFaults > 10, $"the sample should take wp faults, took {kernel.WpFaults}");
        Assert.True(engine.WpFaults > kernel.WpFaults, $"engine {engine.WpFaults}, kernel {kernel.WpFaults}");
        Assert.Equal(engine.Segvs, kernel.Segvs);
        Assert.Null(kernel.Digest);
        Assert.Null(kernel.TablesInUse);
    }

    [SkippableTheory]
    [InlineData("engine")]
    [InlineData("kernel")]
    public void A_refused_operation_is_named_changes_nothing_and_Dispose_releases_the_targets(string target)
    {
        SkipWithoutKernel(target);
        List<TraceOperation> ops =
        [
            TraceOperation.SpaceCreated(1, pid: 100),
            TraceOperation.Map(1, 0x10000, 0x2000, TraceRegionKind.Anon, TraceProtection.ReadWrite),
            TraceOperation.Access(1, 0x11000, write: true),
            TraceOperation.Map(1, 0x11000, 0x1000, TraceRegionKind.Anon, TraceProtection.ReadWrite),
        ];
        var created = new List<DisposeCountingTarget>();
        var factory = TraceReplay.Factory(target, ops);
        var replayer = new Replayer((space, features) =>
        {
            var t = new DisposeCountingTarget(factory(space, features));
            created.Add(t);
            return t;
        }, target);
        var e = Assert.Throws<ReplayException>(() => replayer.Run(ops));
        Assert.StartsWith("operation #4 (", e.Message);
        Assert.Contains($"refused by the {target} target", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);
        var only = Assert.Single(created);
        Assert.Equal(0, only.Disposals);
        Assert.Equal(FastPT.Uffd.PagemapBits.Present, only.Pagemap(0x11000) & FastPT.Uffd.PagemapBits.Present); // still mapped, still written
        replayer.Dispose();
        Assert.Equal(1, only.Disposals);
        replayer.Dispose();
        Assert.Equal(1, only.Disposals);
    }

    private sealed class DisposeCountingTarget(IReplayTarget inner) : IReplayTarget
    {
        public int Disposals { get; private set; }
        public void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection) => inner.MapRegion(start, length, kind, protection);
        public void Unmap(ulong start, ulong length) => inner.Unmap(start, length);
        public TraceAccessOutcome Access(ulong address, bool write) => inner.Access(address, write);
        public void Protect(ulong start, ulong length, TraceProtection protection) => inner.Protect(start, length, protection);
        public void Zap(ulong start, ulong length) => inner.Zap(start, length);
        public void RegisterWp(ulong start, ulong length, int flags) => inner.RegisterWp(start, length, flags);
        public void WriteProtect(ulong start, ulong length, bool protect) => inner.WriteProtect(start, length, protect);
        public void Unregister(ulong start, ulong length) => inner.Unregister(start, length);
        public ulong Pagemap(ulong address) => inner.Pagemap(address);

        public void Dispose()
        {
            Disposals++;
            inner.Dispose();
        }
    }

    [SkippableTheory]
    [InlineData("engine")]
    [InlineData("kernel")]
    public void The_digests_see_a_one_page_difference(string target)
    {
        SkipWithoutKernel(target);
        var ops = NettraceRoundTripTests.Sample(3000, seed: 7);
        var baseline = Replay(ops, target: target);
        int i = ops.FindLastIndex(o => o.Kind == TraceOpKind.Access && o.Arg == 1);
        var zapped = new List<TraceOperation>(ops);
        zapped.Insert(i + 1, TraceOperation.Zap(1, ops[i].Start & ~0xFFFUL, 0x1000));
        var other = Replay(zapped, target: target);
        Assert.NotEqual(baseline.PagemapDigest, other.PagemapDigest);
        Assert.NotEqual(baseline.PagemapDigest, Replay(NettraceRoundTripTests.Sample(3000, seed: 8), target: target).PagemapDigest);
        if (target == "engine")
            Assert.NotEqual(baseline.Digest, other.Digest);
    }

    [SkippableTheory]
    [InlineData("engine")]
    [InlineData("kernel")]
    public void A_scenario_recorded_through_the_EventSource_replays_to_the_same_final_state(string target)
    {
        SkipWithoutKernel(target);
        const TraceFeatures Features = TraceFeatures.WpUnpopulated;
        static ulong Base(int space) => 0x1000_0000_0000UL * (ulong)space;
        // The kernel target lays out its reservation from the operations: these two regions per space.
        List<TraceOperation> footprint = [];
        for (int space = 1; space <= 2; space++)
        {
            footprint.Add(TraceOperation.Map(space, Base(space), 0x20_0000, TraceRegionKind.File, TraceProtection.ReadWrite));
            footprint.Add(TraceOperation.Map(space, Base(space) + 0x40_0000, 0x20_0000, TraceRegionKind.Anon, TraceProtection.ReadWrite));
        }
        var factory = TraceReplay.Factory(target, footprint);
        // Drive targets as a program would, with the FastPT EventSource on (as the engine emits).
        var live = new SortedDictionary<int, IReplayTarget>();
        var touched = new HashSet<(int, ulong)>();
        string path = Path.Combine(_dir, "scenario.nettrace");
        NettraceWriter.Record(path, () =>
        {
            var rng = new Random(11);
            for (int space = 1; space <= 2; space++)
            {
                var inner = factory(space, Features);
                // The engine emits its own events; the kernel target gets a tracing wrapper.
                int id = inner is EngineTarget e ? e.Model.TraceSpace : space;
                IReplayTarget t = inner is EngineTarget ? inner : TracingTarget.Create(space, (int)Features, inner);
                live[id] = inner;
                ulong b = Base(space);
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
                            touched.Add((id, va >> 12));
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
        ulong expected = TableDigest.OfPagemap(live.Select(kv => (kv.Key, kv.Value)), touched);
        ulong? tables = target == "engine" ? TableDigest.Of(live.Select(kv => (kv.Key, (ITablesTarget)kv.Value))) : null;
        long? inUse = target == "engine" ? live.Values.Sum(t => ((ITablesTarget)t).TablesInUse) : null;
        foreach (var t in live.Values)
            t.Dispose();
        var (replayed, summary) = TraceReplay.Run(path, target, 0);
        Assert.Equal(inUse, replayed.TablesInUse);
        Assert.Equal(tables, replayed.Digest);
        Assert.Equal(expected.ToString("x16"), replayed.PagemapDigestHex);
        Assert.True(replayed.WpFaults > 10, $"the scenario should exercise wp faults, saw {replayed.WpFaults}");
        Assert.Equal(2, replayed.Spaces);
        Assert.True(summary.FastPTEvents > 8000);
        if (target == "kernel")
        {
            // The engine, replaying the same file, ends in the kernel's pagemap state.
            var (engine, _) = TraceReplay.Run(path, "engine", 0);
            Assert.Equal(replayed.PagemapDigestHex, engine.PagemapDigestHex);
        }
    }

    [SkippableTheory]
    [InlineData("engine")]
    [InlineData("kernel")]
    public void The_snapshot_overlay_protects_copies_and_resolves(string target)
    {
        SkipWithoutKernel(target);
        var ops = NettraceRoundTripTests.Sample(5000, seed: 3).Where(o => o.Kind is not (TraceOpKind.RegisterWp or TraceOpKind.WriteProtect or TraceOpKind.Unregister)).ToList();
        var plain = Replay(ops, target: target);
        var snap = Replay(ops, snapshotEvery: 500, target: target);
        Assert.Equal(0, plain.WpFaults);
        Assert.Equal(ops.Count(o => o.Kind is not (TraceOpKind.SpaceCreated or TraceOpKind.SpaceDisposed)) / 500, snap.Snapshots);
        Assert.True(snap.SnapshotCopies > 100, $"copies: {snap.SnapshotCopies}");
        Assert.Equal(snap.WpFaults, snap.SnapshotCopies);
        Assert.Equal(snap.PagemapDigest, Replay(ops, snapshotEvery: 500, target: target).PagemapDigest);
        Assert.NotEqual(plain.PagemapDigest, snap.PagemapDigest);
        if (target == "kernel")
        {
            var engine = Replay(ops, snapshotEvery: 500);
            Assert.Equal((engine.SnapshotCopies, engine.PagemapDigestHex), (snap.SnapshotCopies, snap.PagemapDigestHex));
        }
    }
}
