using FastPT.Scenarios.Backends;
using FastPT.Kernels;

namespace FastPT.Scenarios.Language;

/// <summary>
/// Tokenizes, parses and validates a script line by line, tracking which regions exist and
/// which are registered, so every check in the spec's Errors section is made here and backends
/// never see bad input. Parsing stops at the first bad line.
/// </summary>
internal static class ScriptParser
{
    /// <summary>Largest region accepted: 16 GiB of 4 KiB pages (an extension limit, keeps pagemap reads sane).</summary>
    public const long MaxRegionPages = 1L << 22;

    private sealed class RegionInfo(long pages, bool registered)
    {
        public long Pages { get; } = pages;
        public bool Registered { get; set; } = registered;
    }

    public static Script Parse(string text)
    {
        var statements = new List<Statement>();
        var regions = new Dictionary<string, RegionInfo>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNumber = i + 1;
            var tokens = Tokenize(lines[i]);
            if (tokens.Length == 0)
                continue;
            try
            {
                statements.Add(ParseStatement(lineNumber, tokens, regions));
            }
            catch (ScriptErrorException e)
            {
                return new Script(statements, new ScriptError(lineNumber, e.Message));
            }
        }
        return new Script(statements, null);
    }

    /// <summary>Splits a line at spaces and tabs after dropping the comment and a trailing CR.</summary>
    internal static string[] Tokenize(string line)
    {
        int hash = line.IndexOf('#');
        if (hash >= 0)
            line = line[..hash];
        line = line.TrimEnd('\r');
        return line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
    }

    private static Statement ParseStatement(int line, string[] t, Dictionary<string, RegionInfo> regions)
    {
        switch (t[0])
        {
            case "region":
                return ParseRegion(line, t, regions);
            case "write":
            case "read":
                Operands(t, 1, "RANGE");
                return new AccessStatement(line, ParseRange(t[1], regions), t[0] == "write");
            case "zap":
                Operands(t, 1, "RANGE");
                return new ZapStatement(line, ParseRange(t[1], regions));
            case "wp":
            case "unwp":
            {
                Operands(t, 1, "RANGE");
                var range = ParseRange(t[1], regions);
                if (!regions[range.Region].Registered)
                    throw new ScriptErrorException(
                        $"{t[0]} on region '{range.Region}', which is not registered for write-protect " +
                        "(declare it with the 'wp' option, and do not use it after 'unregister')");
                return new WriteProtectStatement(line, range, t[0] == "wp");
            }
            case "protect":
                Operands(t, 2, "RANGE none|r|rw");
                return new ProtectStatement(line, ParseRange(t[1], regions), t[2] switch
                {
                    "none" => Protection.None,
                    "r" => Protection.Read,
                    "rw" => Protection.ReadWrite,
                    _ => throw new ScriptErrorException($"unknown protection '{t[2]}' (expected none, r or rw)"),
                });
            case "unregister":
            {
                Operands(t, 1, "NAME");
                var name = t[1];
                if (!IsName(name))
                    throw new ScriptErrorException($"unregister takes a bare region name, not '{name}'");
                var info = Lookup(name, regions);
                info.Registered = false;
                return new UnregisterStatement(line, name);
            }
            case "pagemap":
            {
                Operands(t, 1, "RANGE or NAME");
                var operand = t[1];
                var range = IsName(operand)
                    ? new PageRange(operand, 0, Lookup(operand, regions).Pages)
                    : ParseRange(operand, regions);
                return new PagemapStatement(line, range, string.Join(' ', t));
            }
            case "scan":
                return ParseScan(line, t, regions);
            default:
                throw new ScriptErrorException(
                    $"unknown statement '{t[0]}' (expected region, write, read, zap, wp, unwp, protect, unregister, scan or pagemap)");
        }
    }

    private static void Operands(string[] t, int count, string usage)
    {
        if (t.Length - 1 != count)
            throw new ScriptErrorException(
                $"'{t[0]}' takes {count} operand{(count == 1 ? "" : "s")} ({t[0]} {usage}), got {t.Length - 1}");
    }

    private static Statement ParseRegion(int line, string[] t, Dictionary<string, RegionInfo> regions)
    {
        if (t.Length < 4)
            throw new ScriptErrorException("region needs a name, a kind and a size: region NAME file|anon PAGES [options]");
        var name = t[1];
        if (!IsName(name))
            throw new ScriptErrorException($"bad region name '{name}' (names are [A-Za-z_][A-Za-z0-9_]*)");
        if (regions.ContainsKey(name))
            throw new ScriptErrorException($"region '{name}' is already defined; region names must be unique");
        RegionKind kind = t[2] switch
        {
            "file" => RegionKind.File,
            "anon" => RegionKind.Anon,
            _ => throw new ScriptErrorException($"unknown region kind '{t[2]}' (expected file or anon)"),
        };
        long pages = ParseNumber(t[3], "region size");
        if (pages == 0)
            throw new ScriptErrorException($"region '{name}' has 0 pages; a region needs at least 1 page");
        if (pages > MaxRegionPages)
            throw new ScriptErrorException($"region '{name}' has {pages} pages; at most {MaxRegionPages} are supported");
        bool wp = false, unpopulated = false, async = false, thp = false;
        foreach (var option in t.AsSpan(4))
        {
            ref bool flag = ref wp;
            switch (option)
            {
                case "wp": flag = ref wp; break;
                case "async": flag = ref async; break;
                case "unpopulated" when kind == RegionKind.Anon: flag = ref unpopulated; break;
                case "thp" when kind == RegionKind.Anon: flag = ref thp; break;
                default:
                    throw new ScriptErrorException(kind == RegionKind.File
                        ? $"unknown option '{option}' for a file region (file regions take wp and async)"
                        : $"unknown option '{option}' for an anon region (anon regions take wp, unpopulated, async and thp)");
            }
            if (flag)
                throw new ScriptErrorException($"region option '{option}' given twice");
            flag = true;
        }
        regions.Add(name, new RegionInfo(pages, wp));
        return new RegionStatement(line, name, kind, pages, wp, unpopulated, async, thp);
    }

    private static Statement ParseScan(int line, string[] t, Dictionary<string, RegionInfo> regions)
    {
        if (t.Length < 2)
            throw new ScriptErrorException("scan needs a page range: scan NAME:FIRST[+COUNT] [options]");
        if (IsName(t[1]))
            throw new ScriptErrorException($"scan needs a page range NAME:FIRST[+COUNT], not the bare region name '{t[1]}' (write {t[1]}:0+PAGES)");
        var range = ParseRange(t[1], regions);
        bool wp = false;
        PageCategories? mask = null, anyOf = null, inverted = null, ret = null;
        long? max = null;
        foreach (var option in t.AsSpan(2))
        {
            if (option == "wp")
            {
                if (wp)
                    throw new ScriptErrorException("scan option 'wp' given twice");
                wp = true;
                continue;
            }
            int eq = option.IndexOf('=');
            var key = eq < 0 ? option : option[..eq];
            var value = eq < 0 ? null : option[(eq + 1)..];
            switch (key)
            {
                case "mask": SetOnce(ref mask, key, ParseCategories(key, value)); break;
                case "anyof": SetOnce(ref anyOf, key, ParseCategories(key, value)); break;
                case "inverted": SetOnce(ref inverted, key, ParseCategories(key, value)); break;
                case "return": SetOnce(ref ret, key, ParseCategories(key, value)); break;
                case "max":
                {
                    if (string.IsNullOrEmpty(value))
                        throw new ScriptErrorException("scan option max needs a page count: max=N with N >= 1");
                    long n = ParseNumber(value, "max");
                    if (n == 0)
                        throw new ScriptErrorException("scan option max=0 is not allowed; use max=N with N >= 1, or leave max out");
                    SetOnce(ref max, key, n);
                    break;
                }
                default:
                    throw new ScriptErrorException(
                        $"unknown scan option '{option}' (expected wp, mask=CATS, anyof=CATS, inverted=CATS, return=CATS or max=N)");
            }
        }
        var request = new ScanRequest(wp, mask ?? PageCategories.None, anyOf ?? PageCategories.None,
            inverted ?? PageCategories.None, ret ?? PageCategories.All, max ?? 0);
        return new ScanStatement(line, range, request, string.Join(' ', t));
    }

    private static void SetOnce<T>(ref T? slot, string key, T value) where T : struct
    {
        if (slot.HasValue)
            throw new ScriptErrorException($"scan option '{key}' given twice");
        slot = value;
    }

    private static PageCategories ParseCategories(string key, string? value)
    {
        if (value is null)
            throw new ScriptErrorException($"scan option '{key}' needs categories: {key}=CATS");
        if (value.Length == 0)
            throw new ScriptErrorException($"scan option '{key}=' has an empty category list");
        var result = PageCategories.None;
        foreach (var name in value.Split(','))
        {
            if (name.Length == 0)
                throw new ScriptErrorException($"scan option '{key}={value}' has an empty category name (check the commas)");
            result |= CategoryNames.Parse(name)
                ?? throw new ScriptErrorException(
                    $"unknown scan category '{name}' in '{key}={value}' (expected {string.Join(", ", CategoryNames.All)})");
        }
        return result;
    }

    /// <summary>NAME:FIRST or NAME:FIRST+COUNT, checked against the region's size.</summary>
    private static PageRange ParseRange(string token, Dictionary<string, RegionInfo> regions)
    {
        int colon = token.IndexOf(':');
        if (colon < 0)
        {
            if (IsName(token))
                throw new ScriptErrorException($"expected a page range NAME:FIRST[+COUNT], got the bare region name '{token}'");
            throw new ScriptErrorException($"malformed page range '{token}' (expected NAME:FIRST or NAME:FIRST+COUNT)");
        }
        var name = token[..colon];
        if (!IsName(name))
            throw new ScriptErrorException($"malformed page range '{token}': bad region name '{name}'");
        var info = Lookup(name, regions);
        var rest = token[(colon + 1)..];
        int plus = rest.IndexOf('+');
        long first = ParseNumber(plus < 0 ? rest : rest[..plus], "first page");
        long count = plus < 0 ? 1 : ParseNumber(rest[(plus + 1)..], "page count");
        if (count == 0)
            throw new ScriptErrorException($"page range '{token}' has a page count of 0; a range needs at least 1 page");
        if (first >= info.Pages || count > info.Pages - first)
            throw new ScriptErrorException(
                $"page range '{token}' is outside region '{name}', which has {info.Pages} pages (0..{info.Pages - 1})");
        return new PageRange(name, first, count);
    }

    private static RegionInfo Lookup(string name, Dictionary<string, RegionInfo> regions) =>
        regions.TryGetValue(name, out var info)
            ? info
            : throw new ScriptErrorException($"unknown region '{name}' (define it with a region statement before using it)");

    /// <summary>Decimal (leading zeros allowed, still decimal) or 0x hexadecimal; non-negative, at most 2^40 (far above any page count, and no overflow while accumulating).</summary>
    internal static long ParseNumber(string token, string what)
    {
        if (token.Length == 0)
            throw new ScriptErrorException($"missing number for {what}");
        bool hex = token.StartsWith("0x", StringComparison.Ordinal);
        var digits = hex ? token.AsSpan(2) : token.AsSpan();
        if (digits.Length == 0)
            throw new ScriptErrorException($"bad number '{token}' for {what} (hex numbers need digits after 0x)");
        ulong value = 0;
        foreach (char c in digits)
        {
            int d = c is >= '0' and <= '9' ? c - '0'
                : hex && c is >= 'a' and <= 'f' ? c - 'a' + 10
                : hex && c is >= 'A' and <= 'F' ? c - 'A' + 10
                : -1;
            if (d < 0)
                throw new ScriptErrorException($"bad number '{token}' for {what} (numbers are decimal or 0x-prefixed hexadecimal)");
            value = value * (hex ? 16UL : 10UL) + (ulong)d;
            if (value > (1UL << 40))
                throw new ScriptErrorException($"number '{token}' for {what} is too large");
        }
        return (long)value;
    }

    internal static bool IsName(string s)
    {
        if (s.Length == 0 || !(char.IsAsciiLetter(s[0]) || s[0] == '_'))
            return false;
        foreach (char c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
                return false;
        }
        return true;
    }
}
