using FastPT.Traces.Nettrace;

namespace FastPT.Traces.Replay;

/// <summary>Streams a .nettrace with TraceEvent into a <see cref="Replayer"/>.</summary>
public static class TraceReplay
{
    /// <summary>The targets `fastpt replay --target` knows, default first.</summary>
    public static readonly IReadOnlyDictionary<string, ReplayTargetFactory> Targets = new Dictionary<string, ReplayTargetFactory>
    {
        ["engine"] = (_, features) => new EngineTarget(features),
        ["reference"] = (_, _) => new ReferenceTarget(),
    };

    public const string DefaultTarget = "engine";

    /// <param name="progress">Called now and then with the number of operations read so far.</param>
    public static (ReplayResult Result, TraceReadSummary Summary) Run(string path, string target, long snapshotEvery, Action<long>? progress = null)
    {
        if (!Targets.TryGetValue(target, out ReplayTargetFactory? factory))
            throw new ArgumentException($"unknown replay target '{target}'; known: {string.Join(", ", Targets.Keys)}.", nameof(target));
        using var replayer = new Replayer(factory, target, snapshotEvery);
        TraceReadSummary summary = NettraceReader.Read(path, op =>
        {
            replayer.Add(op);
            if (progress is not null && replayer.OperationsSeen % 10_000 == 0)
                progress(replayer.OperationsSeen);
        });
        return (replayer.Finish(), summary);
    }
}
