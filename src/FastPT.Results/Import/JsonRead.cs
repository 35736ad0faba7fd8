using System.Text.Json;
using FastPT.Results.Model;

namespace FastPT.Results.Import;

/// <summary>Typed reads of imported JSON that fail with the file and the path of the bad value.</summary>
internal static class JsonRead
{
    public static JsonElement Required(JsonElement e, string name, JsonValueKind kind, string origin, string at)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind != kind)
            throw new ResultsFormatException(origin, $"{at}.{name} is {(v.ValueKind == JsonValueKind.Undefined ? "missing" : ResultsReader.Describe(v.ValueKind))}; expected {ResultsReader.Describe(kind)}");
        return v;
    }

    public static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    public static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : null;

    public static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    public static double[]? Numbers(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? [.. v.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetDouble())]
            : null;

    public static DateTimeOffset? Time(JsonElement e, string name) =>
        String(e, name) is string s && DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out var t) ? t : null;
}
