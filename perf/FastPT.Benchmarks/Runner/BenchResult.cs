using FastPT.Results.Model;

namespace FastPT.Benchmarks.Runner;

/// <summary>
/// One operation of one run: the engine's timing, its baselines (the bare load+store pass over
/// the same tables, the live kernel doing the same job, the scalar kernel) and the API it
/// times. Ratios are kept only for baselines timed in the same cycle (see <see cref="Timing"/>).
/// </summary>
/// <param name="Op">The operation's name in reports and history (stable: history matches on it).</param>
/// <param name="Api">The API the figure times, e.g. "RangeWalker.Walk(ChangeProtectionOp)".</param>
/// <param name="Units">How many units (pages, translations, round trips) one timed call covers.</param>
/// <param name="Unit">The unit of every figure, "ns/page" unless a row says otherwise.</param>
public sealed record BenchResult(
    string Op,
    string Api,
    long Units,
    Timing Engine,
    Timing? Bare = null,
    Timing? Kernel = null,
    Timing? Scalar = null,
    string? Note = null,
    string Unit = "ns/page")
{
    public double NsPerPage => Engine.Median;

    public double? KernelNsPerPage => Kernel?.Median;

    public double? BareNsPerPage => Bare?.Median;

    public double? ScalarNsPerPage => Scalar?.Median;

    public double PagesPerSecond => 1e9 / NsPerPage;

    /// <summary>How many times faster than the kernel (kernel ns / engine ns, medians).</summary>
    public double? KernelSpeedup => KernelNsPerPage / NsPerPage;

    /// <summary>Engine time over the bare pass (1.0 = at the hardware limit), medians.</summary>
    public double? BareRatio => NsPerPage / BareNsPerPage;

    /// <summary>The row in the results format v1.</summary>
    public OpResult ToOpResult()
    {
        var baselines = new Dictionary<string, IReadOnlyList<double>>();
        var ratios = new Dictionary<string, IReadOnlyList<double>>();
        foreach (var (key, t) in new[] { ("bare", Bare), ("kernel", Kernel), ("scalar", Scalar) })
        {
            if (t == null)
                continue;
            baselines[key] = t.Samples;
            if (key != "scalar" && Engine.RatiosTo(t) is double[] r)
                ratios[key] = r;
        }
        return new OpResult
        {
            Op = Op,
            Api = Api,
            Unit = Unit,
            UnitsPerSample = Units,
            Samples = Engine.Samples,
            Baselines = baselines.Count > 0 ? baselines : null,
            Ratios = ratios.Count > 0 ? ratios : null,
            Note = Note,
        };
    }
}

/// <summary>The whole run: its environment (load average read before and after) and its rows.</summary>
public sealed record BenchReport(RunEnvironment Environment, IReadOnlyList<BenchResult> Results)
{
    public string Cpu => Environment.CpuModel ?? "unknown";

    public string Isa => Environment.Isa ?? "unknown";

    /// <summary>The run in the results format v1 (what `fastpt bench --json` prints).</summary>
    public ResultSet ToResultSet() => new()
    {
        Source = "fastpt bench",
        SamplesKind = SamplesKinds.Repetitions,
        Environment = Environment,
        Results = [.. Results.Select(r => r.ToOpResult())],
    };
}
