using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastPT.Results.Model;

/// <summary>Writing and checking results v1 documents.</summary>
public static class ResultsJson
{
    /// <summary>An indented document (what `fastpt bench --json` prints).</summary>
    public static string Serialize(ResultSet set) => JsonSerializer.Serialize(set, ResultsJsonContext.Indented.ResultSet);

    /// <summary>One line (a history entry).</summary>
    public static string SerializeLine(ResultSet set) => JsonSerializer.Serialize(set, ResultsJsonContext.Default.ResultSet);

    /// <summary>Reads a v1 document; <paramref name="origin"/> names it in errors (a file, or "file:line").</summary>
    public static ResultSet Deserialize(string json, string origin)
    {
        ResultSet? set;
        try
        {
            set = JsonSerializer.Deserialize(json, ResultsJsonContext.Default.ResultSet);
        }
        catch (JsonException e)
        {
            throw new ResultsFormatException(origin, $"not a valid results v1 document ({Where(e)}{FirstLine(e.Message)})");
        }
        if (set == null)
            throw new ResultsFormatException(origin, "the document is null; expected a results v1 object");
        Validate(set, origin);
        return set;
    }

    /// <summary>Checks what the format promises; throws <see cref="ResultsFormatException"/> naming the first fault.</summary>
    public static void Validate(ResultSet set, string origin)
    {
        if (set.Format != ResultSet.FormatName)
            throw new ResultsFormatException(origin, $"\"format\" is \"{set.Format}\"; expected \"{ResultSet.FormatName}\"");
        if (set.Version != ResultSet.CurrentVersion)
            throw new ResultsFormatException(origin, set.Version > ResultSet.CurrentVersion
                ? $"results format version {set.Version} is newer than this fastpt reads (version {ResultSet.CurrentVersion}); update fastpt"
                : $"results format version {set.Version} is unknown; this fastpt reads version {ResultSet.CurrentVersion}");
        if (!SamplesKinds.All.Contains(set.SamplesKind))
            throw new ResultsFormatException(origin, $"\"samples_kind\" is \"{set.SamplesKind}\"; expected one of {string.Join(", ", SamplesKinds.All)}");
        if (set.Environment == null)
            throw new ResultsFormatException(origin, "\"environment\" is missing (use {} when nothing is known)");
        if (set.Results == null || set.Results.Count == 0)
            throw new ResultsFormatException(origin, "\"results\" is empty: the run measured no operation");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < set.Results.Count; i++)
        {
            var r = set.Results[i];
            string at = $"results[{i}]";
            if (r == null || string.IsNullOrWhiteSpace(r.Op))
                throw new ResultsFormatException(origin, $"{at} has no \"op\" name");
            at = $"results[{i}] (\"{r.Op}\")";
            if (!seen.Add(r.Op))
                throw new ResultsFormatException(origin, $"{at}: operation \"{r.Op}\" appears twice");
            if (string.IsNullOrWhiteSpace(r.Unit))
                throw new ResultsFormatException(origin, $"{at} has no \"unit\"");
            CheckSeries(origin, $"{at}.samples", r.Samples, positive: true);
            foreach (var (key, values) in r.Baselines ?? new Dictionary<string, IReadOnlyList<double>>())
                CheckSeries(origin, $"{at}.baselines.{key}", values, positive: true);
            foreach (var (key, values) in r.Ratios ?? new Dictionary<string, IReadOnlyList<double>>())
            {
                CheckSeries(origin, $"{at}.ratios.{key}", values, positive: true);
                if (values.Count != r.Samples.Count)
                    throw new ResultsFormatException(origin, $"{at}.ratios.{key} has {values.Count} values for {r.Samples.Count} samples; a paired ratio needs one per sample");
            }
        }
    }

    private static void CheckSeries(string origin, string at, IReadOnlyList<double>? values, bool positive)
    {
        if (values == null || values.Count == 0)
            throw new ResultsFormatException(origin, $"{at} is empty; every series needs at least one sample");
        for (int i = 0; i < values.Count; i++)
        {
            double v = values[i];
            if (!double.IsFinite(v) || (positive && v <= 0))
                throw new ResultsFormatException(origin, $"{at}[{i}] is {v}; samples must be finite and greater than 0");
        }
    }

    private static string Where(JsonException e) =>
        e.LineNumber is long line ? $"line {line + 1}, byte {e.BytePositionInLine + 1}: " : "";

    internal static string FirstLine(string message)
    {
        int nl = message.IndexOfAny(['\r', '\n']);
        return nl < 0 ? message : message[..nl];
    }
}

/// <summary>A results file that cannot be used: the message says what, where and how to fix it.</summary>
public sealed class ResultsFormatException(string origin, string problem) : Exception($"{origin}: {problem}")
{
    public string Origin { get; } = origin;
}

[JsonSerializable(typeof(ResultSet))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
internal sealed partial class ResultsJsonContext : JsonSerializerContext
{
    public static ResultsJsonContext Indented { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
