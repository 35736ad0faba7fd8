using System.Globalization;
using System.Net;
using System.Text;

namespace FastPT.Results.Report;

/// <summary>One history entry's value in a chart: median, confidence band, how it was sampled, and its details.</summary>
/// <param name="Hollow">Drawn hollow: its samples are run medians (old bench versions), not repetitions.</param>
public sealed record ChartPoint(int X, double Median, double Low, double High, bool Hollow, string Title, string Detail);

/// <summary>A vertical mark between two entries: a change point.</summary>
public sealed record ChartMark(double X, string Label, bool Slower);

/// <summary>
/// A small line chart as inline SVG: x = history entries in order, y from 0, a median line with
/// its confidence band, points with a tooltip, and change points as dashed lines. No script or
/// font is needed to draw it.
/// </summary>
public static class SvgChart
{
    private const int Width = 560, Height = 230, Left = 62, Right = 34, Top = 26, Bottom = 56;
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <param name="id">Unique in the page (names the clip path).</param>
    public static string Render(string id, string op, string figure, string title, string yLabel, IReadOnlyList<string> xLabels,
        IReadOnlyList<ChartPoint> points, IReadOnlyList<ChartMark> marks, string color)
    {
        // The scale follows the medians: one wild sample (a loaded machine) would otherwise
        // flatten every line, so bands reaching above 2.5x the highest median are cut there.
        double maxMedian = points.Count == 0 ? 1 : points.Max(p => p.Median);
        double max = points.Count == 0 ? 1 : Math.Min(points.Max(p => Math.Max(p.High, p.Median)), 2.5 * maxMedian);
        bool cut = points.Any(p => p.High > max * 1.05);
        double step = NiceStep(max / 4);
        double top = Math.Max(step, Math.Ceiling(max * 1.05 / step) * step);
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        int n = Math.Max(1, xLabels.Count);
        double X(double i) => Left + (n == 1 ? plotW / 2 : i * plotW / (n - 1));
        double Y(double v) => Top + plotH - v / top * plotH;

        var sb = new StringBuilder();
        sb.Append(C, $"<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" role=\"img\" ");
        sb.Append(C, $"data-op=\"{E(op)}\" data-figure=\"{E(figure)}\" data-points=\"{points.Count}\" aria-label=\"{E(title)}\">");
        sb.Append(C, $"<text class=\"title\" x=\"{Left}\" y=\"16\">{E(title)}</text>");
        if (cut)
            sb.Append(C, $"<text class=\"tick\" x=\"{Width - Right}\" y=\"16\" text-anchor=\"end\">bands cut at the top</text>");
        sb.Append(C, $"<clipPath id=\"{id}\"><rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\"/></clipPath>");
        // Grid and y axis.
        for (double v = 0; v <= top + step / 2; v += step)
        {
            sb.Append(C, $"<line class=\"grid\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Y(v):F1}\" y2=\"{Y(v):F1}\"/>");
            sb.Append(C, $"<text class=\"tick\" x=\"{Left - 6}\" y=\"{Y(v) + 4:F1}\" text-anchor=\"end\">{Tick(v, step)}</text>");
        }
        sb.Append(C, $"<text class=\"axis\" transform=\"translate(14 {Top + plotH / 2:F0}) rotate(-90)\" text-anchor=\"middle\">{E(yLabel)}</text>");
        // x labels: every entry while they fit, else every k-th.
        int every = Math.Max(1, (int)Math.Ceiling(n / (plotW / 16)));
        for (int i = 0; i < xLabels.Count; i += every)
            sb.Append(C, $"<text class=\"tick\" transform=\"translate({X(i):F1} {Top + plotH + 8}) rotate(50)\">{E(xLabels[i])}</text>");
        // Confidence band and median line, broken where an entry lacks the figure.
        sb.Append(C, $"<g clip-path=\"url(#{id})\">");
        foreach (var run in Runs(points))
        {
            if (run.Count > 1)
            {
                string band = string.Join(" ", run.Select(p => $"{X(p.X):F1},{Y(p.High):F1}").Concat(run.AsEnumerable().Reverse().Select(p => $"{X(p.X):F1},{Y(p.Low):F1}")));
                sb.Append(C, $"<polygon class=\"band\" fill=\"{color}\" points=\"{band}\"/>");
                sb.Append(C, $"<polyline class=\"line\" stroke=\"{color}\" points=\"{string.Join(" ", run.Select(p => $"{X(p.X):F1},{Y(p.Median):F1}"))}\"/>");
            }
            else
            {
                var p = run[0];
                sb.Append(C, $"<line class=\"whisker\" stroke=\"{color}\" x1=\"{X(p.X):F1}\" x2=\"{X(p.X):F1}\" y1=\"{Y(p.Low):F1}\" y2=\"{Y(p.High):F1}\"/>");
            }
        }
        sb.Append("</g>");
        foreach (var m in marks)
        {
            string cls = m.Slower ? "mark slower" : "mark faster";
            sb.Append(C, $"<line class=\"{cls}\" x1=\"{X(m.X):F1}\" x2=\"{X(m.X):F1}\" y1=\"{Top}\" y2=\"{Top + plotH}\"/>");
            // Near the right edge the label goes left of its line so it stays inside the chart.
            bool left = X(m.X) > Width - Right - 90;
            sb.Append(C, $"<text class=\"{cls}\" x=\"{X(m.X) + (left ? -3 : 3):F1}\" y=\"{Top + 10}\"{(left ? " text-anchor=\"end\"" : "")}>{E(m.Label)}</text>");
        }
        foreach (var p in points)
        {
            string fill = p.Hollow ? "#fff" : color;
            sb.Append(C, $"<circle class=\"pt\" cx=\"{X(p.X):F1}\" cy=\"{Y(p.Median):F1}\" r=\"3.6\" fill=\"{fill}\" stroke=\"{color}\" data-i=\"{p.X}\" data-v=\"{p.Median.ToString("R", C)}\" data-detail=\"{E(p.Detail)}\"><title>{E(p.Title)}</title></circle>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static List<List<ChartPoint>> Runs(IReadOnlyList<ChartPoint> points)
    {
        var runs = new List<List<ChartPoint>>();
        foreach (var p in points.OrderBy(p => p.X))
        {
            if (runs.Count == 0 || runs[^1][^1].X != p.X - 1)
                runs.Add([]);
            runs[^1].Add(p);
        }
        return runs;
    }

    private static double NiceStep(double raw)
    {
        if (raw <= 0 || !double.IsFinite(raw))
            return 1;
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / mag;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
    }

    private static string Tick(double v, double step)
    {
        int decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step)) + (step / Math.Pow(10, Math.Floor(Math.Log10(step))) == 2.5 ? 1 : 0));
        return v.ToString("F" + Math.Min(decimals, 6), C);
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
