using System.Text.Json.Serialization;

namespace FastPT.Results.Model;

/// <summary>
/// One benchmark run in the results format v1 (docs/results-format.md): every operation's
/// samples, the same-repetition ratios to its baselines, and where and when it ran.
/// </summary>
public sealed record ResultSet
{
    public const string FormatName = "fastpt-results";
    public const int CurrentVersion = 1;

    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;
    [JsonPropertyName("version")] public int Version { get; init; } = CurrentVersion;

    /// <summary>What produced the file: "fastpt bench", "BenchmarkDotNet 0.15.8", "fastpt bench (legacy runs)".</summary>
    [JsonPropertyName("source")] public required string Source { get; init; }

    /// <summary>What one sample is (<see cref="SamplesKinds"/>).</summary>
    [JsonPropertyName("samples_kind")] public required string SamplesKind { get; init; }

    [JsonPropertyName("environment")] public required RunEnvironment Environment { get; init; }

    [JsonPropertyName("results")] public required IReadOnlyList<OpResult> Results { get; init; }

    public OpResult? Find(string op) => Results.FirstOrDefault(r => r.Op == op);
}

/// <summary>The values of <see cref="ResultSet.SamplesKind"/>.</summary>
public static class SamplesKinds
{
    /// <summary>One timed repetition inside one process (fastpt bench v1).</summary>
    public const string Repetitions = "repetitions";

    /// <summary>The median of one whole process run (old `fastpt bench` versions, run several times).</summary>
    public const string RunMedians = "run-medians";

    /// <summary>One BenchmarkDotNet workload iteration (overhead subtracted).</summary>
    public const string Iterations = "iterations";

    public static readonly string[] All = [Repetitions, RunMedians, Iterations];
}

/// <summary>One operation's measurements. Lower is better for every figure.</summary>
public sealed record OpResult
{
    [JsonPropertyName("op")] public required string Op { get; init; }

    /// <summary>The API the figure times, e.g. "PageTableOps.ChangeProtection".</summary>
    [JsonPropertyName("api")] public string? Api { get; init; }

    /// <summary>Unit of every sample: "ns/page", "ns/translation", "ns/op"...</summary>
    [JsonPropertyName("unit")] public required string Unit { get; init; }

    /// <summary>How many units one sample's timed call covered (pages per walk); informative.</summary>
    [JsonPropertyName("units_per_sample")] public long? UnitsPerSample { get; init; }

    /// <summary>Every sample in the order taken.</summary>
    [JsonPropertyName("samples")] public required IReadOnlyList<double> Samples { get; init; }

    /// <summary>Baselines in the same unit: "bare" (SIMD load+store pass), "kernel" (Linux doing the job), "scalar".</summary>
    [JsonPropertyName("baselines")] public IReadOnlyDictionary<string, IReadOnlyList<double>>? Baselines { get; init; }

    /// <summary>
    /// Paired ratios: samples[i] / baselines[key][i], present only where sample i and the
    /// baseline's sample i were taken in the same repetition (or run), so drift cancels.
    /// </summary>
    [JsonPropertyName("ratios")] public IReadOnlyDictionary<string, IReadOnlyList<double>>? Ratios { get; init; }

    [JsonPropertyName("note")] public string? Note { get; init; }
}

/// <summary>Where and when a run happened; every field may be missing (null) when unknown.</summary>
public sealed record RunEnvironment
{
    [JsonPropertyName("commit")] public string? Commit { get; init; }
    [JsonPropertyName("dirty")] public bool? Dirty { get; init; }
    [JsonPropertyName("commit_time")] public DateTimeOffset? CommitTime { get; init; }
    [JsonPropertyName("subject")] public string? Subject { get; init; }
    [JsonPropertyName("time")] public DateTimeOffset? Time { get; init; }
    [JsonPropertyName("runtime")] public string? Runtime { get; init; }
    [JsonPropertyName("os")] public string? Os { get; init; }
    [JsonPropertyName("kernel")] public string? Kernel { get; init; }
    [JsonPropertyName("cpu_model")] public string? CpuModel { get; init; }
    [JsonPropertyName("cpu_flags")] public string? CpuFlags { get; init; }
    [JsonPropertyName("isa")] public string? Isa { get; init; }
    [JsonPropertyName("cores")] public int? Cores { get; init; }
    [JsonPropertyName("hypervisor")] public bool? Hypervisor { get; init; }
    [JsonPropertyName("load_before")] public IReadOnlyList<double>? LoadBefore { get; init; }
    [JsonPropertyName("load_after")] public IReadOnlyList<double>? LoadAfter { get; init; }
    [JsonPropertyName("args")] public string? Args { get; init; }

    /// <summary>The key of the history file this run belongs to: CPU model and core count, e.g. "amd-epyc-2c".</summary>
    [JsonIgnore]
    public string CpuKey => HistoryKey(CpuModel, Cores);

    public static string HistoryKey(string? cpuModel, int? cores)
    {
        // "Intel(R) Xeon(R) Processor" -> "intel-xeon-processor": trademarks are not part of the name.
        string model = (cpuModel ?? "unknown-cpu").ToLowerInvariant().Replace("(r)", "", StringComparison.Ordinal).Replace("(tm)", "", StringComparison.Ordinal);
        var slug = new System.Text.StringBuilder();
        foreach (char c in model)
        {
            if (char.IsAsciiLetterOrDigit(c))
                slug.Append(c);
            else if (slug.Length > 0 && slug[^1] != '-')
                slug.Append('-');
        }
        string s = slug.ToString().Trim('-');
        return cores is int n ? $"{(s.Length == 0 ? "unknown-cpu" : s)}-{n}c" : s;
    }
}
