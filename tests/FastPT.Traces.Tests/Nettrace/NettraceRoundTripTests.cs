using FastPT.Diagnostics;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;

namespace FastPT.Traces.Tests.Nettrace;

/// <summary>The EventSource → EventPipe → .nettrace → TraceEvent path, in this process.</summary>
[Collection(EventPipeCollection.Name)]
public class NettraceRoundTripTests
{
    internal static List<TraceOperation> Sample(int count, int seed, bool dispose = false)
    {
        var rng = new Random(seed);
        var ops = new List<TraceOperation> { TraceOperation.SpaceCreated(1, 4242, (int)TraceFeatures.WpUnpopulated) };
        ulong b = 0x7f00_0000_0000;
        ops.Add(TraceOperation.Map(1, b, 0x40_0000, TraceRegionKind.Anon, TraceProtection.ReadWrite));
        ops.Add(TraceOperation.Map(1, b + 0x100_0000, 0x10_0000, TraceRegionKind.File, TraceProtection.Read));
        ops.Add(TraceOperation.RegisterWp(1, b, 0x40_0000, 1));
        for (int i = 0; i < count; i++)
        {
            ulong page = b + ((ulong)rng.Next(0, 0x400) << 12);
            ops.Add((i % 97) switch
            {
                0 => TraceOperation.WriteProtect(1, b, 0x40_0000, true),
                1 => TraceOperation.Zap(1, page, 0x1000),
                2 => TraceOperation.Protect(1, page, 0x1000, TraceProtection.Read),
                3 => TraceOperation.WriteProtect(1, page, 0x1000, false),
                _ => TraceOperation.Access(1, page, rng.Next(2) == 0),
            });
        }
        ops.Add(TraceOperation.Unregister(1, b, 0x40_0000));
        ops.Add(TraceOperation.Unmap(1, b + 0x100_0000, 0x10_0000));
        if (dispose)
            ops.Add(TraceOperation.SpaceDisposed(1));
        return ops;
    }

    [Fact]
    public void Operations_written_through_the_EventSource_read_back_identically()
    {
        var ops = Sample(5000, seed: 1, dispose: true);
        string path = Path.Combine(Path.GetTempPath(), $"fastpt-rt-{Guid.NewGuid():N}.nettrace");
        try
        {
            NettraceWriter.Record(path, () =>
            {
                FastPTEventSource.Log.TraceInfo("test", "round trip", 3, 4);
                NettraceWriter.Emit(ops);
            });
            var (read, summary) = NettraceReader.ReadAll(path);
            Assert.Equal(ops, read);
            Assert.Equal(new TraceInfo("test", "round trip", 3, 4), summary.Info);
            Assert.Equal(ops.Count + 1, summary.FastPTEvents);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EventPipeCollection
{
    public const string Name = "EventPipe sessions on this process";
}
