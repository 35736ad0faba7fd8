using System.Text.Json;
using FastPT.Results.Model;

namespace FastPT.Results.Import;

/// <summary>
/// Opens any results file FastPT understands and returns it in the v1 model: a results v1
/// document, a BenchmarkDotNet full JSON report (or a folder of them), or the JSON of a
/// `fastpt bench` from before v1 (one median per operation, bare or wrapped as a legacy run).
/// </summary>
public static class ResultsReader
{
    /// <summary>Reads <paramref name="path"/>; throws <see cref="ResultsFormatException"/> with the reason when it cannot be used.</summary>
    public static ResultSet Load(string path)
    {
        if (Directory.Exists(path))
            return LoadBenchmarkDotNetFolder(path);
        if (!File.Exists(path))
            throw new ResultsFormatException(path, "no such file or folder");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ResultsFormatException(path, $"cannot be read: {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Reads a document's text; <paramref name="origin"/> names it in errors.</summary>
    public static ResultSet Parse(string text, string origin)
    {
        using var doc = ParseJson(text, origin);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ResultsFormatException(origin, $"the top level is {Describe(root.ValueKind)}; expected an object (a results v1 document, a BenchmarkDotNet full JSON report or fastpt bench JSON)");
        string? format = root.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
        if (format == ResultSet.FormatName)
            return ResultsJson.Deserialize(text, origin);
        if (format == LegacyBenchImporter.RunFormat)
            return LegacyBenchImporter.ImportRun(root, origin);
        if (format != null)
            throw new ResultsFormatException(origin, $"\"format\" is \"{format}\", which this fastpt does not read; expected \"{ResultSet.FormatName}\"");
        if (root.TryGetProperty("Benchmarks", out _) && root.TryGetProperty("HostEnvironmentInfo", out _))
            return BenchmarkDotNetImporter.Import(root, origin);
        if (root.TryGetProperty("results", out _) && root.TryGetProperty("cpu", out _))
            return LegacyBenchImporter.ImportBench(root, origin, environment: null);
        throw new ResultsFormatException(origin, "not a results file: expected a results v1 document (\"format\": \"fastpt-results\"), a BenchmarkDotNet full JSON report (--exporters json or fulljson) or the JSON of fastpt bench");
    }

    private static ResultSet LoadBenchmarkDotNetFolder(string path)
    {
        string[] files = [.. Directory.EnumerateFiles(path, "*-report-full*.json").Order(StringComparer.Ordinal)];
        if (files.Length == 0)
            throw new ResultsFormatException(path, "the folder holds no BenchmarkDotNet full JSON report (*-report-full.json or *-report-full-compressed.json); run BenchmarkDotNet with --exporters json");
        var sets = files.Select(Load).ToList();
        var ops = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (set, file) in sets.Zip(files))
            foreach (var r in set.Results)
                if (!ops.TryAdd(r.Op, file))
                    throw new ResultsFormatException(path, $"operation \"{r.Op}\" is in both {Path.GetFileName(ops[r.Op])} and {Path.GetFileName(file)}; keep one report per benchmark class");
        return sets[0] with { Results = [.. sets.SelectMany(s => s.Results)] };
    }

    private static JsonDocument ParseJson(string text, string origin)
    {
        try
        {
            return JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
            throw new ResultsFormatException(origin, $"not valid JSON{where}: {ResultsJson.FirstLine(e.Message)}");
        }
    }

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => kind.ToString(),
    };
}
