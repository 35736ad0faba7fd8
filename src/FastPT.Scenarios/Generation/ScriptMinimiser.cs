using System.Globalization;
using System.Text.RegularExpressions;

namespace FastPT.Scenarios.Generation;

/// <summary>
/// Shrinks a script while a predicate (e.g. "engine and kernel disagree") still holds:
/// drops chunks of lines (delta debugging), then single lines, then shrinks numbers
/// (region sizes, range starts and counts, max=N). The predicate decides validity: it
/// should return false for scripts that no longer parse.
/// </summary>
public static partial class ScriptMinimiser
{
    public static string Minimise(string script, Func<string, bool> stillFails, TimeSpan budget)
    {
        var deadline = DateTime.UtcNow + budget;
        var lines = script.Split('\n').Select(l => l.Split('#')[0].TrimEnd()).Where(l => l.Length > 0).ToList();
        if (!stillFails(Join(lines)))
            return script;
        bool progress = true;
        while (progress && DateTime.UtcNow < deadline)
        {
            progress = false;
            for (int chunk = Math.Max(1, lines.Count / 2); chunk >= 1 && DateTime.UtcNow < deadline; chunk /= 2)
            {
                for (int i = 0; i + chunk <= lines.Count && DateTime.UtcNow < deadline;)
                {
                    var trial = lines.Take(i).Concat(lines.Skip(i + chunk)).ToList();
                    if (stillFails(Join(trial)))
                    {
                        lines = trial;
                        progress = true;
                    }
                    else
                        i++;
                }
            }
            for (int i = 0; i < lines.Count && DateTime.UtcNow < deadline; i++)
            {
                foreach (var smaller in SmallerLines(lines[i]))
                {
                    var trial = new List<string>(lines) { [i] = smaller };
                    if (stillFails(Join(trial)))
                    {
                        lines = trial;
                        progress = true;
                        break;
                    }
                }
            }
        }
        return Join(lines);
    }

    private static string Join(List<string> lines) => string.Join('\n', lines) + "\n";

    /// <summary>Variants of one line with one number made smaller (halved, minus one, zero) or an option dropped.</summary>
    private static IEnumerable<string> SmallerLines(string line)
    {
        var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int t = 1; t < tokens.Length; t++)
        {
            if (line.StartsWith("region ", StringComparison.Ordinal) && t >= 4 || line.StartsWith("scan ", StringComparison.Ordinal) && t >= 2)
                yield return string.Join(' ', tokens.Where((_, j) => j != t));
        }
        foreach (Match m in Number().Matches(line))
        {
            long v = long.Parse(m.Value, CultureInfo.InvariantCulture);
            foreach (long w in new[] { 0, 1, v / 2, v - 1, v - 512, v - 16 }.Where(w => w >= 0 && w < v).Distinct())
                yield return line[..m.Index] + w.ToString(CultureInfo.InvariantCulture) + line[(m.Index + m.Length)..];
        }
    }

    [GeneratedRegex(@"(?<=[:+= ])\d+\b")]
    private static partial Regex Number();
}
