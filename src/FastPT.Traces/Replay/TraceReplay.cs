using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;

namespace FastPT.Traces.Replay;

/// <summary>Replays of a whole trace: the targets by name, one pass, and timed warm passes.</summary>
public static class TraceReplay
{
    public const string DefaultTarget = "engine";

    /// <summary>The targets `fastpt replay --target` knows, default first.</summary>
    public static IReadOnlyList<string> Targets { get; } = ["engine", "kernel"];

    /// <summary>
    /// The factory for one trace's spaces: the engine's share a <see cref="TablePool"/> (warm
    /// across passes, as the kernel's page allocator is); the kernel target lays out its
    /// reservations from the operations.
    /// </summary>
    public static ReplayTargetFactory Factory(string target, IReadOnlyList<TraceOperation> operations) => target switch
    {
        "engine" => EngineTarget.Factory(new TablePool()),
        "kernel" => KernelTarget.Factory(operations),
        _ => throw new ArgumentException($"unknown replay target '{target}'; known: {string.Join(", ", Targets)}.", nameof(target)),
    };

    /// <summary>One pass into fresh targets.</summary>
    public static ReplayResult Replay(IReadOnlyList<TraceOperation> operations, string target, ReplayTargetFactory factory, long snapshotEvery = 0)
    {
        using var replayer = new Replayer(factory, target, snapshotEvery);
        replayer.Run(operations);
        return replayer.Finish();
    }

    /// <summary>Reads a trace and replays it once into the target (cold: the first pass pays the JIT).</summary>
    public static (ReplayResult Result, TraceReadSummary Summary) Run(string path, string target, long snapshotEvery)
    {
        var (ops, summary) = NettraceReader.ReadAll(path);
        return (Replay(ops, target, Factory(target, ops), snapshotEvery), summary);
    }

    /// <summary>How long each target replays untimed before the timed passes (see <see cref="Measure"/>).</summary>
    public const double WarmUpSeconds = 1.0;

    /// <summary>
    /// Timed passes of one trace into each target in one process. Warm: untimed passes of each
    /// target for <see cref="WarmUpSeconds"/> first (the JIT's tiering settles on the paths the
    /// trace takes; cold figures time the compiler too). Then <paramref name="repetitions"/>
    /// passes of each, interleaved, so the slow phases of a loaded machine hit every target alike
    /// and the per-pass ratios pair up.
    /// </summary>

    public static IReadOnlyList<ReplayMeasurement> Measure(IReadOnlyList<TraceOperation> operations, IReadOnlyList<string> targets,
        long snapshotEvery = 0, int repetitions = 3, bool warmUp = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(repetitions, 1);
        var factories = targets.Select(t => Factory(t, operations)).ToList();
        if (warmUp)
        {
            // Warm means steady state: the JIT promotes hot methods to optimised code only after
            // they have run a while (tiered compilation), so one pass is not enough. Untimed
            // passes for at least WarmUpSeconds (and two passes) per target.
            for (int t = 0; t < targets.Count; t++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int pass = 0; pass < 2 || System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds < WarmUpSeconds; pass++)
                    Replay(operations, targets[t], factories[t], snapshotEvery);
            }
        }
        var seconds = targets.Select(_ => new double[repetitions]).ToList();
        var last = new ReplayResult[targets.Count];
        for (int i = 0; i < repetitions; i++)
        {
            for (int t = 0; t < targets.Count; t++)
            {
                last[t] = Replay(operations, targets[t], factories[t], snapshotEvery);
                seconds[t][i] = last[t].Seconds;
            }
        }
        return [.. targets.Select((_, t) => new ReplayMeasurement(last[t], seconds[t], warmUp))];
    }
}

/// <summary>Timed passes of one target: the last pass's result and the seconds of each.</summary>
public sealed record ReplayMeasurement(ReplayResult Result, IReadOnlyList<double> Seconds, bool Warm)
{
    public double MedianSeconds
    {
        get
        {
            double[] s = [.. Seconds.Order()];
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
    }

    /// <summary>Operations per second at the median pass.</summary>
    public double OperationsPerSecond => MedianSeconds > 0 ? Result.Operations / MedianSeconds : 0;
}
