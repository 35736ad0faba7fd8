using System.Text;
using FastPT.Scenarios.Language;

namespace FastPT.Fuzz.Targets;

/// <summary>
/// Scenario scripts: <see cref="Script.Parse"/> never throws; a bad script comes back with a
/// <see cref="ScriptError"/> naming a real line. What it accepts must be valid for the backends
/// (they are promised never to see bad input): every range inside a region declared before it.
/// </summary>
internal static class ScriptTarget
{
    /// <summary>The parser's region size limit (ScriptParser.MaxRegionPages, 16 GiB of 4 KiB pages).</summary>
    private const long MaxRegionPages = 1L << 22;

    public static void Run(byte[] input)
    {
        string text = Encoding.UTF8.GetString(input);
        Script script = Script.Parse(text);
        int lines = text.Split('\n').Length;
        if (script.Error is { } e)
        {
            Contract.That(e.Line >= 1 && e.Line <= lines, $"error names line {e.Line} of a {lines}-line script");
            Contract.ClearMessage(e.ToString(), $"line {e.Line}: ");
        }
        var pages = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Statement s in script.Statements)
        {
            PageRange? range = s switch
            {
                AccessStatement a => a.Range,
                ZapStatement z => z.Range,
                WriteProtectStatement w => w.Range,
                ProtectStatement p => p.Range,
                PagemapStatement m => m.Range,
                ScanStatement c => c.Range,
                _ => null,
            };
            if (s is RegionStatement r)
            {
                Contract.That(r.Pages is >= 1 and <= MaxRegionPages, $"line {r.Line}: region of {r.Pages} pages accepted");
                Contract.That(pages.TryAdd(r.Name, r.Pages), $"line {r.Line}: region '{r.Name}' accepted twice");
            }
            else if (s is UnregisterStatement u)
            {
                Contract.That(pages.ContainsKey(u.Region), $"line {u.Line}: unregister of unknown region '{u.Region}' accepted");
            }
            if (range is { } g)
            {
                Contract.That(pages.TryGetValue(g.Region, out long n), $"line {s.Line}: range in unknown region '{g.Region}' accepted");
                Contract.That(g.First >= 0 && g.Count >= 1 && g.First + g.Count <= n, $"line {s.Line}: range {g} outside its {n}-page region accepted");
            }
        }
    }
}
