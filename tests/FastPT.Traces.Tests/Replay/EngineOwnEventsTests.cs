using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;
using FastPT.Traces.Replay;
using FastPT.Traces.Tests.Nettrace;
using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Traces.Tests.Replay;

/// <summary>
/// The engine records itself: a scenario runs on MemoryModel directly under an EventPipe session,
/// and the trace, replayed into fresh models, must give the same final tables.
/// </summary>
[Collection(EventPipeCollection.Name)]
public class EngineOwnEventsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-engine-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void Scenario(MemoryModel m, ulong b, int seed)
    {
        var rng = new Random(seed);
        m.Map(b, 0x20_0000, Backing.File, MemoryProtection.ReadWrite);
        m.Map(b + 0x40_0000, 0x20_0000, Backing.Anon, MemoryProtection.ReadWrite);
        m.RegisterWriteProtect(b, 0x20_0000, new FlushPlan());
        m.RegisterWriteProtect(b + 0x40_0000, 0x20_0000, new FlushPlan());
        for (int i = 0; i < 3000; i++)
        {
            ulong va = (rng.Next(2) == 0 ? b : b + 0x40_0000) + ((ulong)rng.Next(512) << 12);
            switch (rng.Next(40))
            {
                case 0: m.WriteProtect(b, 0x20_0000, true, new FlushPlan()); break;
                case 1: m.WriteProtect(b + 0x40_0000, 0x20_0000, true, new FlushPlan()); break;
                case 2: m.Zap(va, 0x1000, new FlushPlan()); break;
                case 3: m.Protect(va, 0x1000, MemoryProtection.Read, new FlushPlan()); break;
                case 4: m.Protect(va, 0x1000, MemoryProtection.ReadWrite, new FlushPlan()); break;
                default:
                    bool write = rng.Next(3) != 0;
                    if (m.Access(va + (ulong)rng.Next(4096), write, new FlushPlan()).Outcome == AccessOutcome.WriteProtectFault)
                    {
                        m.WriteProtect(va, 0x1000, false, new FlushPlan());
                        m.Access(va, write, new FlushPlan());
                    }
                    break;
            }
        }
        m.Unmap(b + 0x10_0000, 0x8000, new FlushPlan());
    }

    [Fact]
    public void A_scenario_on_the_engine_recorded_by_its_own_EventSource_replays_to_the_same_tables()
    {
        string path = Path.Combine(_dir, "engine.nettrace");
        var models = new List<MemoryModel>();
        try
        {
            NettraceWriter.Record(path, () =>
            {
                for (int s = 0; s < 2; s++)
                {
                    var m = new MemoryModel(s == 0 ? UffdFeatures.WpUnpopulated : UffdFeatures.None);
                    models.Add(m);
                    Scenario(m, 0x1000_0000_0000UL * (ulong)(s + 1), seed: 20 + s);
                }
            });
            var (ops, _) = NettraceReader.ReadAll(path);
            Assert.True(ops.Count > 0, "the trace holds none of MemoryModel's events: its FastPTEventSource hooks (docs/traces.md, 'Engine hooks') emitted nothing");
            var ids = ops.Where(o => o.Kind == TraceOpKind.SpaceCreated).Select(o => o.Space).ToList();
            Assert.Equal(2, ids.Count);
            Assert.Equal((int)TraceFeatures.WpUnpopulated, ops.First(o => o.Kind == TraceOpKind.SpaceCreated).Arg2);
            ulong expected = TableDigest.Of(ids.Select((id, i) => (id, (ITablesTarget)new EngineTarget(models[i]))));
            long tables = models.Sum(m => m.TablesInUse);

            var (r, _) = TraceReplay.Run(path, "engine", 0);
            Assert.Equal(expected.ToString("x16"), r.DigestHex);
            Assert.Equal(tables, r.TablesInUse);
            Assert.True(r.WpFaults > 10, $"wp faults: {r.WpFaults}");
            Assert.True(r.Segvs > 0, "the scenario writes to read-only pages");
        }
        finally
        {
            foreach (var m in models)
                m.Dispose();
        }
    }
}
