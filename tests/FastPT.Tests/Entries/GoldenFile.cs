using System.Globalization;

namespace FastPT.Tests.Entries;

/// <summary>
/// Reads language-neutral golden files: one case a line, "function arg... -> expected",
/// '#' comments. Numbers are 0x-hex (underscores allowed) or decimal.
/// </summary>
internal static class GoldenFile
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    /// <summary>Every case of a file as (line number, function, arguments, expected).</summary>
    public static IEnumerable<GoldenCase> Read(string name)
    {
        string path = PathOf(name);
        if (!File.Exists(path))
            throw new FileNotFoundException($"golden file {path} is missing: is Data/** copied to the test output?", path);
        int lineNo = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNo++;
            int hash = raw.IndexOf('#', StringComparison.Ordinal);
            string line = (hash >= 0 ? raw[..hash] : raw).Trim();
            if (line.Length == 0)
                continue;
            int arrow = line.IndexOf("->", StringComparison.Ordinal);
            if (arrow < 0)
                throw new FormatException($"{name}:{lineNo}: no '->' in \"{raw}\"");
            string[] lhs = line[..arrow].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string expected = line[(arrow + 2)..].Trim();
            if (lhs.Length == 0 || expected.Length == 0)
                throw new FormatException($"{name}:{lineNo}: want \"function args -> expected\", got \"{raw}\"");
            yield return new GoldenCase(name, lineNo, lhs[0], lhs[1..], expected);
        }
    }

    public static ulong ParseULong(string s)
    {
        string t = s.Replace("_", "", StringComparison.Ordinal);
        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.Parse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        if (t.StartsWith('-'))
            return unchecked((ulong)long.Parse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        return ulong.Parse(t, NumberStyles.None, CultureInfo.InvariantCulture);
    }

    public static long ParseLong(string s) => unchecked((long)ParseULong(s));
}

internal sealed record GoldenCase(string File, int Line, string Function, string[] Args, string Expected)
{
    public override string ToString() => $"{File}:{Line} {Function} {string.Join(' ', Args)} -> {Expected}";
}
