using System.Text.Json;
using FastPT.Results.Model;

namespace FastPT.Results.Import;

/// <summary>
/// BenchmarkDotNet's full JSON report (`--exporters json` writes *-report-full-compressed.json,
/// `fulljson` *-report-full.json; both hold the same fields) as a results v1 set: one operation
/// per benchmark case, named "Type.Method(Param=value)", one sample per workload iteration of
/// the Result stage (overhead subtracted, outliers removed by BenchmarkDotNet) in ns per operation.
/// BenchmarkDotNet times baselines in their own processes, so there are no paired ratios. A case
/// with a sample of 0 or less (faster than the overhead it subtracts) is left out.
/// </summary>
public static class BenchmarkDotNetImporter
{
    public static ResultSet Import(JsonElement root, string origin)
    {
        var host = JsonRead.Required(root, "HostEnvironmentInfo", JsonValueKind.Object, origin, "$");
        var benchmarks = JsonRead.Required(root, "Benchmarks", JsonValueKind.Array, origin, "$");
        var results = new List<OpResult>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var b in benchmarks.EnumerateArray())
        {
            string at = $"Benchmarks[{i++}]";
            string type = JsonRead.String(b, "Type") ?? throw new ResultsFormatException(origin, $"{at}.Type is missing");
            string method = JsonRead.String(b, "Method") ?? throw new ResultsFormatException(origin, $"{at}.Method is missing");
            string parameters = JsonRead.String(b, "Parameters") ?? "";
            string op = parameters.Length > 0 ? $"{type}.{method}({parameters.Replace("&", ", ", StringComparison.Ordinal)})" : $"{type}.{method}";
            if (!names.Add(op))
                throw new ResultsFormatException(origin, $"{at}: \"{op}\" appears twice (several jobs in one report); run one job per report");
            double[] samples = Samples(b);
            if (samples.Length == 0)
                throw new ResultsFormatException(origin, $"{at} (\"{op}\") has no workload measurements; the benchmark probably failed (see BenchmarkDotNet's log)");
            // A case faster than BenchmarkDotNet's overhead estimate measures nothing (0 or less
            // after the subtraction): it has no time to compare, so it is left out.
            if (samples.Any(v => v <= 0))
                continue;
            results.Add(new OpResult
            {
                Op = op,
                Api = $"{JsonRead.String(b, "Namespace")}.{type}.{method}".TrimStart('.'),
                Unit = "ns/op",
                Samples = samples,
                Note = JsonRead.String(b, "MethodTitle")?.Trim('\''),
            });
        }
        if (results.Count == 0)
            throw new ResultsFormatException(origin, "the report holds no benchmark");
        var set = new ResultSet
        {
            Source = $"BenchmarkDotNet {JsonRead.String(host, "BenchmarkDotNetVersion")}".TrimEnd(),
            SamplesKind = SamplesKinds.Iterations,
            Environment = new RunEnvironment
            {
                Runtime = JsonRead.String(host, "RuntimeVersion"),
                Os = JsonRead.String(host, "OsVersion"),
                CpuModel = JsonRead.String(host, "ProcessorName"),
                Cores = JsonRead.Int(host, "LogicalCoreCount"),
                Args = JsonRead.String(root, "Title"),
            },
            Results = results,
        };
        ResultsJson.Validate(set, origin);
        return set;
    }

    private static double[] Samples(JsonElement benchmark)
    {
        if (benchmark.TryGetProperty("Measurements", out var ms) && ms.ValueKind == JsonValueKind.Array)
        {
            double[] result = [.. ms.EnumerateArray()
                .Where(m => JsonRead.String(m, "IterationMode") == "Workload" && JsonRead.String(m, "IterationStage") == "Result")
                .Select(m => (JsonRead.Number(m, "Nanoseconds") ?? double.NaN) / (JsonRead.Number(m, "Operations") ?? double.NaN))];
            if (result.Length > 0)
                return result;
        }
        // Reports written without measurements still carry the statistics' original values.
        return benchmark.TryGetProperty("Statistics", out var st) && st.ValueKind == JsonValueKind.Object
            ? JsonRead.Numbers(st, "OriginalValues") ?? []
            : [];
    }
}
