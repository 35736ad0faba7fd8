using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using FastPT.Results.Compare;
using FastPT.Results.History;
using FastPT.Results.Model;
using FastPT.Results.Statistics;

namespace FastPT.Results.Report;

/// <summary>
/// One self-contained HTML file: per operation its time over the history with 95 % bands, its
/// paired ratios to the bare pass and the kernel, the change points, the latest compare, and
/// the load average of every run. The style and the small script are embedded; nothing is
/// fetched from the network.
/// </summary>
public static class HtmlReport
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;
    [ThreadStatic]
    private static int _charts;

    private const string TimeColor = "#3465a4", BareColor = "#c17d11", KernelColor = "#75507b";

    /// <param name="history">The machine's history, oldest first.</param>
    /// <param name="latest">A run not (yet) in the history, drawn as the newest point and compared with the last entry.</param>
    public static string Render(string cpuKey, IReadOnlyList<ResultSet> history, ResultSet? latest, ComparisonOptions options)
    {
        var entries = latest == null ? history : [.. history, latest];
        if (entries.Count == 0)
            throw new ArgumentException("the report needs at least one run", nameof(history));
        string[] labels = [.. entries.Select((e, i) => Label(e) + (latest != null && i == entries.Count - 1 ? " (latest)" : ""))];
        var changes = ChangePoints.Find(entries, options);
        var sb = new StringBuilder();
        var first = entries[0].Environment;
        var last = entries[^1].Environment;
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append($"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>FastPT performance: {E(cpuKey)}</title>");
        sb.Append($"<style>{Resource("report.css")}</style></head><body>\n");
        sb.Append("<header><h1>FastPT performance history</h1>");
        sb.Append($"<p class=\"meta\">machine <code>{E(cpuKey)}</code> ({E(last.CpuModel ?? "?")}, {last.Cores?.ToString(C) ?? "?"} cores{(last.Hypervisor == true ? ", virtual machine" : "")}) · {entries.Count} runs from {E(Short(first.Commit))} to {E(Short(last.Commit))} · generated {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", C)} UTC</p>");
        sb.Append("<p class=\"how\">Each point is one run: its median with a 95 % distribution-free band; filled points are repetitions inside one process, hollow points are medians of whole runs (old bench versions, run several times). ");
        sb.Append("Ratios are paired: engine time ÷ baseline time in the same repetition, so a slower machine moves them less than the times. ");
        sb.Append("Dashed lines are change points (ED-PELT, kept only when the figure moved by more than the threshold at the significance level); the label is the move of the median. ");
        sb.Append($"This machine is shared, so the load average of each run is drawn first: read the figures with it.</p>");
        sb.Append($"<p class=\"meta\">threshold {options.Threshold:P0}, alpha {options.Alpha.ToString("G3", C)}, noise floor {options.NoiseFloor.ToString("G3", C)} in each op's unit</p></header>\n");

        sb.Append($"<p class=\"summary\"><a href=\"#compare\">latest compare</a>: {E(LatestSummary(entries, options))} · <a href=\"#changes\">{changes.Count} change points</a> ({changes.Count(c => c.Verdict == Verdict.Slower)} slower)</p>\n");
        sb.Append("<section id=\"load\"><h2>Load average at each run</h2>");
        sb.Append(LoadChart(entries, labels));
        sb.Append("</section>\n");

        var ops = entries.AsEnumerable().Reverse().SelectMany(e => e.Results.Select(r => r.Op)).Distinct().ToList();
        ops = [.. entries[^1].Results.Select(r => r.Op).Concat(ops).Distinct()];
        sb.Append("<h2>Operations</h2><p class=\"legend\"><span><i class=\"swatch\" style=\"background:#3465a4\"></i>repetitions</span><span><i class=\"swatch\" style=\"background:#fff\"></i>run medians</span>");
        sb.Append("<input id=\"filter\" type=\"search\" placeholder=\"filter operations (words)\" aria-label=\"filter operations\"> <span id=\"shown\" class=\"meta\"></span></p>\n");
        foreach (string op in ops)
            sb.Append(OpSection(op, entries, labels, changes));

        sb.Append("<section id=\"compare\">");
        sb.Append(CompareTable(entries, options));
        sb.Append("</section>\n");

        sb.Append($"<section id=\"changes\"><h2>Change points ({changes.Count})</h2>");
        if (changes.Count == 0)
            sb.Append("<p>none: no figure moved by more than the threshold between neighbouring segments.</p>");
        else
        {
            sb.Append("<table><tr><th>op</th><th>figure</th><th>move</th><th>95 % CI</th><th>median before → after</th><th>in the commits</th></tr>");
            foreach (var c in changes)
            {
                var f = c.Comparison;
                sb.Append(C, $"<tr><td>{E(c.Op)}</td><td>{E(c.Figure)}</td><td class=\"v-{Name(c.Verdict)}\">{Name(c.Verdict)} {ComparisonFormatter.Percent(f.Relative)}</td>");
                sb.Append(C, $"<td>{ComparisonFormatter.Percent(f.RelativeLow)} … {ComparisonFormatter.Percent(f.RelativeHigh)}</td><td class=\"num\">{f.BaseMedian:G4} → {f.NewMedian:G4} {E(f.Unit)}</td>");
                sb.Append(C, $"<td><code>{E(Short(c.BeforeCommit))}..{E(Short(c.AfterCommit))}</code> (after {E(labels[c.Before])}, by {E(labels[c.After])})</td></tr>");
            }
            sb.Append("</table>");
        }
        sb.Append("</section>\n");

        sb.Append("<section id=\"runs\"><h2>Runs</h2><table><tr><th>#</th><th>commit</th><th>subject</th><th>when (UTC)</th><th>samples</th><th>source</th><th>runtime</th><th>kernel</th><th>ISA</th><th>load before → after</th></tr>");
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i].Environment;
            sb.Append(C, $"<tr><td class=\"num\">{i}</td><td><code>{E(labels[i])}</code></td><td>{E(Trim(e.Subject ?? "", 70))}</td><td>{E(e.Time?.UtcDateTime.ToString("yyyy-MM-dd HH:mm", C) ?? "?")}</td>");
            sb.Append(C, $"<td>{E(entries[i].SamplesKind)}</td><td>{E(entries[i].Source)}</td><td>{E(e.Runtime ?? "?")}</td><td>{E(e.Kernel ?? "?")}</td><td>{E(e.Isa ?? "?")}</td><td>{E(Load(e))}</td></tr>");
        }
        sb.Append("</table></section>\n");
        sb.Append("<aside id=\"detail\" role=\"status\"></aside>\n");
        sb.Append($"<script>{Resource("report.js")}</script>\n</body></html>\n");
        return sb.ToString();
    }

    private static string OpSection(string op, IReadOnlyList<ResultSet> entries, string[] labels, IReadOnlyList<ChangePoint> changes)
    {
        var rows = entries.Select(e => e.Find(op)).ToList();
        var latest = rows.Last(r => r != null)!;
        var sb = new StringBuilder();
        sb.Append($"<section class=\"op\" data-op=\"{E(op)}\"><h3>{E(op)}</h3>");
        sb.Append($"<p class=\"sub\">{E(latest.Api ?? "")}{(latest.Api != null ? " · " : "")}{E(latest.Unit)}{(latest.Note != null ? " · " + E(latest.Note) : "")}</p><div class=\"charts\">");
        sb.Append(Chart(op, "time", $"time ({latest.Unit})", latest.Unit, entries, labels, rows, r => r.Samples, changes, TimeColor));
        if (rows.Any(r => r?.Ratios?.ContainsKey("bare") == true))
            sb.Append(Chart(op, "vs bare", "engine ÷ bare pass (1 = the hardware limit)", "ratio", entries, labels, rows, r => r.Ratios?.GetValueOrDefault("bare"), changes, BareColor));
        if (rows.Any(r => r?.Ratios?.ContainsKey("kernel") == true))
            sb.Append(Chart(op, "vs kernel", "kernel ÷ engine (× faster than Linux)", "times faster", entries, labels, rows,
                r => r.Ratios?.GetValueOrDefault("kernel") is { } k ? [.. k.Select(x => 1 / x)] : null, changes, KernelColor));
        sb.Append("</div></section>\n");
        return sb.ToString();
    }

    private static string Chart(string op, string figure, string title, string unit, IReadOnlyList<ResultSet> entries, string[] labels,
        List<OpResult?> rows, Func<OpResult, IReadOnlyList<double>?> pick, IReadOnlyList<ChangePoint> changes, string color)
    {
        var points = new List<ChartPoint>();
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i] is not { } r || pick(r) is not { Count: > 0 } samples)
                continue;
            var m = MedianInterval.Of(samples);
            var e = entries[i].Environment;
            string value = string.Create(C, $"{m.Median:G4} [{m.Low:G4}, {m.High:G4}] {unit}");
            string detail = string.Create(C, $"{op} · {figure}\n{labels[i]}  {Trim(e.Subject ?? "", 80)}\nmedian {value} ({m.Level:P0} CI)\n{samples.Count} samples ({entries[i].SamplesKind}), {entries[i].Source}\nload {Load(e)} · {e.Time?.UtcDateTime.ToString("yyyy-MM-dd HH:mm", C) ?? "?"} UTC");
            points.Add(new ChartPoint(i, m.Median, m.Low, m.High, entries[i].SamplesKind == SamplesKinds.RunMedians, $"{labels[i]}: {value}, load {Load(e)}", detail));
        }
        var marks = changes.Where(c => c.Op == op && c.Figure == figure)
            .Select(c => new ChartMark((c.Before + c.After) / 2.0, $"{Name(c.Verdict)} {ComparisonFormatter.Percent(c.Comparison.Relative)}", c.Verdict == Verdict.Slower))
            .ToList();
        return SvgChart.Render($"c{++_charts}", op, figure, title, unit, labels, points, marks, color);
    }

    private static string LoadChart(IReadOnlyList<ResultSet> entries, string[] labels)
    {
        const int width = 1160, height = 170, left = 62, right = 14, top = 12, bottom = 56;
        double max = Math.Max(2, entries.Max(e => Math.Max(e.Environment.LoadBefore?.FirstOrDefault() ?? 0, e.Environment.LoadAfter?.FirstOrDefault() ?? 0)));
        int cores = entries[^1].Environment.Cores ?? 0;
        double top2 = Math.Ceiling(Math.Max(max, cores) * 1.1);
        double plotW = width - left - right, plotH = height - top - bottom, slot = plotW / entries.Count;
        double Y(double v) => top + plotH - v / top2 * plotH;
        var sb = new StringBuilder();
        sb.Append(C, $"<svg class=\"chart load\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" data-op=\"load\" data-figure=\"load\" data-points=\"{entries.Count}\" role=\"img\" aria-label=\"load average before and after each run\">");
        for (int v = 0; v <= top2; v += Math.Max(1, (int)(top2 / 4)))
        {
            sb.Append(C, $"<line class=\"grid\" x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(v):F1}\" y2=\"{Y(v):F1}\"/>");
            sb.Append(C, $"<text class=\"tick\" x=\"{left - 6}\" y=\"{Y(v) + 4:F1}\" text-anchor=\"end\">{v}</text>");
        }
        sb.Append(C, $"<text class=\"axis\" transform=\"translate(14 {top + plotH / 2:F0}) rotate(-90)\" text-anchor=\"middle\">1-min load</text>");
        if (cores > 0)
            sb.Append(C, $"<line class=\"cores\" x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(cores):F1}\" y2=\"{Y(cores):F1}\"><title>{cores} cores</title></line>");
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i].Environment;
            double x = left + i * slot, w = Math.Min(14, slot * 0.35);
            double before = e.LoadBefore?.FirstOrDefault() ?? 0, after = e.LoadAfter?.FirstOrDefault() ?? 0;
            string title = E($"{labels[i]}: load {Load(e)}");
            sb.Append(C, $"<rect class=\"load-before\" x=\"{x + slot / 2 - w:F1}\" y=\"{Y(before):F1}\" width=\"{w:F1}\" height=\"{Y(0) - Y(before):F1}\"><title>{title}</title></rect>");
            sb.Append(C, $"<rect class=\"load-after\" x=\"{x + slot / 2:F1}\" y=\"{Y(after):F1}\" width=\"{w:F1}\" height=\"{Y(0) - Y(after):F1}\"><title>{title}</title></rect>");
            sb.Append(C, $"<text class=\"tick\" transform=\"translate({x + slot / 2:F1} {top + plotH + 8}) rotate(50)\">{E(labels[i])}</text>");
        }
        sb.Append("</svg><p class=\"legend meta\"><span>light: before the run</span><span>dark: after it</span><span>dashed: core count</span></p>");
        return sb.ToString();
    }

    private static string LatestSummary(IReadOnlyList<ResultSet> entries, ComparisonOptions options)
    {
        if (entries.Count < 2)
            return "only one run";
        try
        {
            return ComparisonFormatter.Summary(Comparer.Compare(entries[^2], "", entries[^1], "", options, allowOtherMachine: true));
        }
        catch (ResultsFormatException e)
        {
            return e.Message;
        }
    }

    private static string CompareTable(IReadOnlyList<ResultSet> entries, ComparisonOptions options)
    {
        if (entries.Count < 2)
            return "<h2>Latest compare</h2><p>only one run: nothing to compare yet.</p>";
        ComparisonReport r;
        try
        {
            r = Comparer.Compare(entries[^2], Label(entries[^2]), entries[^1], Label(entries[^1]), options, allowOtherMachine: true);
        }
        catch (ResultsFormatException e)
        {
            return $"<h2>Latest compare</h2><p>{E(e.Message)}</p>";
        }
        var sb = new StringBuilder();
        sb.Append($"<h2>Latest compare: {E(Label(entries[^1]))} against {E(Label(entries[^2]))}</h2>");
        foreach (string w in r.Warnings)
            sb.Append($"<p class=\"meta\">warning: {E(w)}</p>");
        sb.Append("<table><tr><th>op</th><th>figure</th><th>base</th><th>new</th><th>shift</th><th>95 % CI</th><th>p</th><th>verdict</th></tr>");
        foreach (var op in r.Ops)
        {
            foreach (var f in op.Figures.OrderBy(f => f.Figure == op.Gate ? 0 : 1))
            {
                bool gate = f.Figure == op.Gate;
                string p = double.IsNaN(f.PSlower) ? "-" : Math.Min(f.PSlower, f.PFaster).ToString("0.0000", C);
                sb.Append(C, $"<tr class=\"{(gate ? "gate" : "info")}\"><td>{(gate ? E(op.Op) : "")}</td><td>{E(f.Figure == Comparer.TimeFigure ? "time " + f.Unit : f.Figure)}</td>");
                sb.Append(C, $"<td class=\"num\">{f.BaseMedian:G4}</td><td class=\"num\">{f.NewMedian:G4}</td><td class=\"num\">{ComparisonFormatter.Percent(f.Relative)}</td>");
                sb.Append(C, $"<td>{ComparisonFormatter.Percent(f.RelativeLow)} … {ComparisonFormatter.Percent(f.RelativeHigh)}</td><td class=\"num\">{p}</td><td class=\"v-{Name(f.Verdict)}\">{Name(f.Verdict)}{(gate ? "" : " (info)")}</td></tr>");
            }
        }
        sb.Append($"</table><p><b>{E(ComparisonFormatter.Summary(r))}</b></p>");
        return sb.ToString();
    }

    private static string Label(ResultSet s) => (s.Environment.Commit is { Length: > 0 } c ? c[..Math.Min(8, c.Length)] : "unknown") + (s.Environment.Dirty == true ? "+dirty" : "");

    private static string Load(RunEnvironment e) =>
        (e.LoadBefore is { Count: > 0 } b ? b[0].ToString("F2", C) : "?") + " → " + (e.LoadAfter is { Count: > 0 } a ? a[0].ToString("F2", C) : "?");

    private static string Short(string? c) => c is { Length: > 8 } ? c[..8] : c ?? "?";

    private static string Trim(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";

    private static string Name(Verdict v) => ComparisonFormatter.Name(v);

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Resource(string name)
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream($"FastPT.Results.Report.{name}")
            ?? throw new InvalidOperationException($"the report's {name} is not embedded in FastPT.Results");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
