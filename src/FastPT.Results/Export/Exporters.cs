using System.Text;
using System.Text.Json;
using FastPT.Results.Model;
using FastPT.Results.Statistics;

namespace FastPT.Results.Export;

/// <summary>
/// A run for dashboards teams already have. Each operation's time becomes one benchmark and each
/// paired ratio another (name "op (vs bare)"); the value is the median, the spread its 95 %
/// distribution-free confidence interval.
/// </summary>
public static class Exporters
{
    /// <summary>github-action-benchmark's "customSmallerIsBetter" input: [{name, unit, value, range, extra}].</summary>
    public static string GithubActionBenchmark(ResultSet set)
    {
        return Write(w =>
        {
            w.WriteStartArray();
            foreach (var (name, unit, samples) in Figures(set))
            {
                var m = MedianInterval.Of(samples);
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("unit", unit);
                w.WriteNumber("value", m.Median);
                w.WriteString("range", FormattableString.Invariant($"{m.Low:G4} to {m.High:G4} ({m.Level:P0} CI of the median)"));
                w.WriteString("extra", Extra(set, samples.Count));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>
    /// Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}; times
    /// use Bencher's "latency" measure (nanoseconds), ratios a "ratio" measure.
    /// </summary>
    public static string BencherMetricFormat(ResultSet set)
    {
        return Write(w =>
        {
            w.WriteStartObject();
            foreach (var (name, unit, samples) in Figures(set))
            {
                var m = MedianInterval.Of(samples);
                w.WriteStartObject(name);
                w.WriteStartObject(unit == "ratio" ? "ratio" : "latency");
                w.WriteNumber("value", m.Median);
                w.WriteNumber("lower_value", m.Low);
                w.WriteNumber("upper_value", m.High);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    private static IEnumerable<(string Name, string Unit, IReadOnlyList<double> Samples)> Figures(ResultSet set)
    {
        foreach (var r in set.Results)
        {
            yield return (r.Op, r.Unit, r.Samples);
            foreach (var (key, ratios) in r.Ratios ?? new Dictionary<string, IReadOnlyList<double>>())
                yield return ($"{r.Op} (vs {key})", "ratio", ratios);
        }
    }

    private static string Extra(ResultSet set, int n)
    {
        var e = set.Environment;
        string load = e.LoadBefore is { Count: > 0 } l ? FormattableString.Invariant($", load {l[0]:F2}") : "";
        return $"{n} samples ({set.SamplesKind}), {set.Source}, commit {e.Commit ?? "unknown"}{(e.Dirty == true ? "+dirty" : "")}{load}";
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            body(w);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
