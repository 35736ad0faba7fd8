using System.Text.Json;
using FastPT.Results.Model;

namespace FastPT.Results.Import;

/// <summary>
/// `fastpt bench --json` from before the results format v1: one median per operation and its
/// baselines' medians, nothing about where it ran. Each such run becomes one sample per
/// operation ("samples_kind": "run-medians"), its same-run ratios one ratio each; several runs
/// of one commit merge into one set (<see cref="MergeRuns"/>). perf/history/bench-at-commit.sh
/// wraps each run with its commit, time and load average ("format": "fastpt-legacy-run").
/// </summary>
public static class LegacyBenchImporter
{
    public const string RunFormat = "fastpt-legacy-run";

    /// <summary>The unit of each operation the old bench printed (all per page but these).</summary>
    private static string UnitOf(string op) => op switch
    {
        "translate-random" => "ns/translation",
        "wp-fault-roundtrip" => "ns/round-trip",
        _ => "ns/page",
    };

    public static ResultSet ImportRun(JsonElement root, string origin)
    {
        var bench = JsonRead.Required(root, "bench", JsonValueKind.Object, origin, "$");
        var env = new RunEnvironment
        {
            Commit = JsonRead.String(root, "commit"),
            Dirty = false,
            CommitTime = JsonRead.Time(root, "commit_time"),
            Subject = JsonRead.String(root, "subject"),
            Time = JsonRead.Time(root, "time"),
            Runtime = JsonRead.String(root, "runtime") is string rt ? $".NET {rt}" : null,
            Os = JsonRead.String(root, "os"),
            Kernel = JsonRead.String(root, "kernel"),
            CpuModel = JsonRead.String(root, "cpu_model"),
            CpuFlags = JsonRead.String(root, "cpu_flags"),
            Cores = JsonRead.Int(root, "cores"),
            Hypervisor = JsonRead.Bool(root, "hypervisor"),
            LoadBefore = JsonRead.Numbers(root, "load_before"),
            LoadAfter = JsonRead.Numbers(root, "load_after"),
            Args = JsonRead.String(root, "args"),
        };
        if (env.Commit == null)
            throw new ResultsFormatException(origin, "a legacy run must name its \"commit\"");
        return ImportBench(bench, origin, env);
    }

    public static ResultSet ImportBench(JsonElement bench, string origin, RunEnvironment? environment)
    {
        var list = JsonRead.Required(bench, "results", JsonValueKind.Array, origin, "$");
        var results = new List<OpResult>();
        int i = 0;
        foreach (var r in list.EnumerateArray())
        {
            string at = $"results[{i++}]";
            string op = JsonRead.String(r, "op") ?? throw new ResultsFormatException(origin, $"{at}.op is missing");
            double ns = JsonRead.Number(r, "ns_per_page") ?? throw new ResultsFormatException(origin, $"{at}.ns_per_page is missing");
            var baselines = new Dictionary<string, IReadOnlyList<double>>();
            var ratios = new Dictionary<string, IReadOnlyList<double>>();
            foreach (var (key, field) in new[] { ("bare", "bare_ns_per_page"), ("kernel", "kernel_ns_per_page"), ("scalar", "scalar_ns_per_page") })
            {
                if (JsonRead.Number(r, field) is not double b)
                    continue;
                baselines[key] = [b];
                if (key != "scalar")
                    ratios[key] = [ns / b];
            }
            results.Add(new OpResult
            {
                Op = op,
                Unit = UnitOf(op),
                UnitsPerSample = JsonRead.Number(r, "pages") is double p ? (long)p : null,
                Samples = [ns],
                Baselines = baselines.Count > 0 ? baselines : null,
                Ratios = ratios.Count > 0 ? ratios : null,
                Note = JsonRead.String(r, "note"),
            });
        }
        var set = new ResultSet
        {
            Source = "fastpt bench (before results v1)",
            SamplesKind = SamplesKinds.RunMedians,
            Environment = (environment ?? new RunEnvironment()) with
            {
                CpuModel = environment?.CpuModel ?? JsonRead.String(bench, "cpu"),
                Isa = JsonRead.String(bench, "isa"),
            },
            Results = results,
        };
        ResultsJson.Validate(set, origin);
        return set;
    }

    /// <summary>
    /// Several runs of one commit as one set: each operation's samples, baselines and ratios
    /// are the runs' values in order; the environment is the first run's, with the load average
    /// before the first run and after the last. A ratio is kept only where every run had it.
    /// </summary>
    public static ResultSet MergeRuns(IReadOnlyList<(ResultSet Set, string Origin)> runs)
    {
        if (runs.Count == 0)
            throw new ArgumentException("no runs to merge", nameof(runs));
        var first = runs[0];
        foreach (var (set, origin) in runs)
        {
            if (set.SamplesKind != SamplesKinds.RunMedians)
                throw new ResultsFormatException(origin, $"only runs from before results v1 (one median per operation) merge; this file's samples are {set.SamplesKind}");
            if (set.Environment.Commit != first.Set.Environment.Commit)
                throw new ResultsFormatException(origin, $"is a run of commit {Short(set.Environment.Commit)}, but {first.Origin} is of {Short(first.Set.Environment.Commit)}; merge runs of one commit only");
        }
        var ops = runs.SelectMany(r => r.Set.Results.Select(o => o.Op)).Distinct().ToList();
        var merged = new List<OpResult>();
        foreach (string op in ops)
        {
            var parts = runs.Select(r => r.Set.Find(op)).Where(o => o != null).Select(o => o!).ToList();
            merged.Add(parts[0] with
            {
                Samples = [.. parts.SelectMany(p => p.Samples)],
                Baselines = Concat(parts, p => p.Baselines, requireAll: false),
                Ratios = Concat(parts, p => p.Ratios, requireAll: true),
            });
        }
        var env = first.Set.Environment with
        {
            LoadAfter = runs[^1].Set.Environment.LoadAfter,
            Args = $"{runs.Count} runs of: {first.Set.Environment.Args}",
        };
        return first.Set with { Environment = env, Results = merged };
    }

    private static Dictionary<string, IReadOnlyList<double>>? Concat(
        List<OpResult> parts, Func<OpResult, IReadOnlyDictionary<string, IReadOnlyList<double>>?> pick, bool requireAll)
    {
        var keys = parts.SelectMany(p => pick(p)?.Keys ?? []).Distinct().ToList();
        var result = new Dictionary<string, IReadOnlyList<double>>();
        foreach (string key in keys)
        {
            if (requireAll && parts.Any(p => pick(p)?.ContainsKey(key) != true))
                continue;
            result[key] = [.. parts.SelectMany(p => pick(p) is { } d && d.TryGetValue(key, out var v) ? v : [])];
        }
        return result.Count > 0 ? result : null;
    }

    private static string Short(string? commit) => commit is { Length: > 12 } ? commit[..12] : commit ?? "(unknown)";
}
