using System.Text;
using System.Text.RegularExpressions;
using FastPT.Tests.Build;

namespace FastPT.Tests.Docs;

/// <summary>
/// Reads README.md's tour (the C# block after the "The tour:" comment) and reduces C# code to its
/// statements — comments dropped, layout normalised — so two copies of the tour can be compared
/// statement by statement.
/// </summary>
internal static partial class ReadmeTour
{
    public const string BeginMarker = "// <readme-tour>\n";
    public const string EndMarker = "// </readme-tour>\n";

    public static string Root => GeneratedSiblingsTests.RepoRoot();

    /// <summary>The code block after the comment that starts with <paramref name="comment"/> (the tour's by default), exactly as README.md has it (LF line ends).</summary>
    public static string Block(string comment = "<!-- The tour:")
    {
        string readme = File.ReadAllText(Path.Combine(Root, "README.md")).ReplaceLineEndings("\n");
        int marker = readme.IndexOf(comment, StringComparison.Ordinal);
        if (marker < 0)
            throw new InvalidOperationException($"README.md has no '{comment} ... -->' comment before its ```csharp block");
        int fence = readme.IndexOf("```csharp\n", marker, StringComparison.Ordinal);
        int close = fence < 0 ? -1 : readme.IndexOf("\n```\n", fence, StringComparison.Ordinal);
        if (close < 0)
            throw new InvalidOperationException($"README.md's '{comment}' comment is not followed by a ```csharp ... ``` block");
        return readme[(fence + "```csharp\n".Length)..(close + 1)];
    }

    /// <summary>The code inside the braces of the method named <paramref name="name"/>.</summary>
    public static string MethodBody(string source, string name)
    {
        string code = WithoutComments(source);
        int at = code.IndexOf($"void {name}(", StringComparison.Ordinal);
        int open = at < 0 ? -1 : code.IndexOf('{', at);
        if (open < 0)
            throw new InvalidOperationException($"no method {name} found");
        for (int i = open, depth = 0; i < code.Length; i++)
        {
            depth += code[i] == '{' ? 1 : code[i] == '}' ? -1 : 0;
            if (depth == 0)
                return code[(open + 1)..i];
        }
        throw new InvalidOperationException($"method {name} has unbalanced braces");
    }

    /// <summary>The statements of <paramref name="code"/>: no comments, whitespace only where it separates words.</summary>
    public static List<string> Statements(string code)
    {
        string flat = Spaces().Replace(WithoutComments(code), " ");
        flat = AroundPunctuation().Replace(flat, "$1");
        return [.. flat.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];
    }

    public static bool IsUsingDirective(string statement) => UsingDirective().IsMatch(statement);

    /// <summary>Where two statement lists first differ, in words; null when they are equal.</summary>
    public static string? FirstDifference(IReadOnlyList<string> expected, IReadOnlyList<string> actual)
    {
        for (int i = 0; i < Math.Max(expected.Count, actual.Count); i++)
        {
            string? e = i < expected.Count ? expected[i] : null;
            string? a = i < actual.Count ? actual[i] : null;
            if (e != a)
                return $"statement {i + 1} is `{a ?? "(missing)"}` where the README has `{e ?? "(nothing)"}`";
        }
        return null;
    }

    /// <summary>
    /// Drops // and /* */ comments, keeping string and char literals whole. Enough for the tour's
    /// code (no verbatim, raw or nested interpolated strings).
    /// </summary>
    private static string WithoutComments(string code)
    {
        var sb = new StringBuilder(code.Length);
        for (int i = 0; i < code.Length; i++)
        {
            char c = code[i];
            char next = i + 1 < code.Length ? code[i + 1] : '\0';
            if (c is '"' or '\'')
            {
                int j = i + 1;
                while (j < code.Length && code[j] != c)
                    j += code[j] == '\\' ? 2 : 1;
                j = Math.Min(j, code.Length - 1);
                sb.Append(code, i, j - i + 1);
                i = j;
            }
            else if (c == '/' && next == '/')
            {
                while (i + 1 < code.Length && code[i + 1] != '\n')
                    i++;
            }
            else if (c == '/' && next == '*')
            {
                int end = code.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? code.Length : end + 1;
                sb.Append(' ');
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [GeneratedRegex(@" ?([^\w\s]) ?")]
    private static partial Regex AroundPunctuation();

    [GeneratedRegex(@"^using (static )?[\w.]+$")]
    private static partial Regex UsingDirective();
}
