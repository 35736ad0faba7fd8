using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FastPT.Results.Compare;

/// <summary>A comparison as a terminal table, markdown, or JSON.</summary>
public static class ComparisonFormatter
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Text(ComparisonReport r)
    {
        var sb = new StringBuilder();
        Header(sb, r, markdown: false);
        var rows = Rows(r).ToList();
        string[] head = ["op", "figure", "base", "new", "shift [CI]", "p", "verdict"];
        int[] width = [.. head.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(x => x[i].Length)))];
        sb.AppendLine(string.Join("  ", head.Select((h, i) => h.PadRight(width[i]))).TrimEnd());
        sb.AppendLine(string.Join("  ", width.Select(w => new string('-', w))));
        foreach (var row in rows)
            sb.AppendLine(string.Join("  ", row.Select((c, i) => i is 2 or 3 ? c.PadLeft(width[i]) : c.PadRight(width[i]))).TrimEnd());
        Footer(sb, r, markdown: false);
        return sb.ToString();
    }

    public static string Markdown(ComparisonReport r)
    {
        var sb = new StringBuilder();
        Header(sb, r, markdown: true);
        sb.AppendLine("| op | figure | base | new | shift [CI] | p | verdict |");
        sb.AppendLine("|---|---|---:|---:|---|---:|---|");
        foreach (var row in Rows(r))
            sb.AppendLine($"| {string.Join(" | ", row.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal)))} |");
        Footer(sb, r, markdown: true);
        return sb.ToString();
    }

    public static string Json(ComparisonReport r)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            Side(w, "base", r.Base);
            Side(w, "new", r.New);
            w.WriteStartObject("options");
            w.WriteNumber("threshold", r.Options.Threshold);
            w.WriteNumber("noise_floor", r.Options.NoiseFloor);
            w.WriteNumber("alpha", r.Options.Alpha);
            w.WriteNumber("confidence", r.Options.Confidence);
            w.WriteString("gate", r.Options.Gate.ToString().ToLowerInvariant());
            w.WriteEndObject();
            w.WriteStartArray("regressions");
            foreach (var op in r.Regressions)
                w.WriteStringValue(op.Op);
            w.WriteEndArray();
            w.WriteStartArray("ops");
            foreach (var op in r.Ops)
            {
                w.WriteStartObject();
                w.WriteString("op", op.Op);
                w.WriteString("unit", op.Unit);
                w.WriteString("gate", op.Gate);
                w.WriteString("verdict", Name(op.Verdict));
                w.WriteStartArray("figures");
                foreach (var f in op.Figures)
                {
                    w.WriteStartObject();
                    w.WriteString("figure", f.Figure);
                    w.WriteString("unit", f.Unit);
                    w.WriteNumber("base_count", f.BaseCount);
                    w.WriteNumber("new_count", f.NewCount);
                    w.WriteNumber("base_median", f.BaseMedian);
                    w.WriteNumber("new_median", f.NewMedian);
                    w.WriteNumber("shift", f.Shift.Shift);
                    w.WriteNumber("shift_low", f.Shift.Low);
                    w.WriteNumber("shift_high", f.Shift.High);
                    w.WriteNumber("ci_level", f.Shift.Level);
                    w.WriteNumber("relative", f.Relative);
                    Number(w, "p_slower", f.PSlower);
                    Number(w, "p_faster", f.PFaster);
                    w.WriteString("verdict", Name(f.Verdict));
                    if (f.Why != null)
                        w.WriteString("why", f.Why);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Strings(w, "only_in_base", r.OnlyInBase);
            Strings(w, "only_in_new", r.OnlyInNew);
            Strings(w, "warnings", r.Warnings);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The one line that ends a comparison: which operations got slower, or none.</summary>
    public static string Summary(ComparisonReport r)
    {
        var slower = r.Regressions.ToList();
        if (slower.Count == 0)
            return $"no regression: {r.Ops.Count} operations compared, {r.Ops.Count(o => o.Verdict == Verdict.Faster)} faster, {r.Ops.Count(o => o.Verdict == Verdict.Same)} same, {r.Ops.Count(o => o.Verdict == Verdict.Unknown)} unknown";
        return $"regression: {string.Join(", ", slower.Select(o => $"{o.Op} ({Percent(o.GateFigure.Relative)} {o.Gate})"))} slower";
    }

    public static string Name(Verdict v) => v.ToString().ToLowerInvariant();

    public static string Percent(double relative) => relative.ToString("+0.0%;-0.0%;0.0%", C);

    private static IEnumerable<string[]> Rows(ComparisonReport r)
    {
        foreach (var op in r.Ops)
        {
            foreach (var f in op.Figures.OrderBy(f => f.Figure == op.Gate ? 0 : 1))
            {
                bool gate = f.Figure == op.Gate;
                string p = double.IsNaN(f.PSlower) ? "-" : Math.Min(f.PSlower, f.PFaster).ToString("0.0000", C);
                string verdict = Name(f.Verdict) + (gate ? "" : " (info)") + (f.Why != null ? $" ({f.Why})" : "");
                yield return
                [
                    gate ? op.Op : "",
                    f.Figure == Comparer.TimeFigure ? $"time {f.Unit}" : f.Figure,
                    Value(f.BaseMedian), Value(f.NewMedian),
                    $"{Percent(f.Relative)} [{Percent(f.RelativeLow)}, {Percent(f.RelativeHigh)}]",
                    p, verdict,
                ];
            }
        }
    }

    private static string Value(double v) => Math.Abs(v) switch
    {
        >= 100 => v.ToString("F1", C),
        >= 1 => v.ToString("F3", C),
        >= 0.001 => v.ToString("F4", C),
        _ => v.ToString("G3", C),
    };

    private static void Header(StringBuilder sb, ComparisonReport r, bool markdown)
    {
        string b = Describe(r.Base), n = Describe(r.New);
        sb.AppendLine(markdown ? $"**base** {b}  \n**new** {n}\n" : $"base: {b}\nnew:  {n}");
        string rule = $"threshold {r.Options.Threshold:P0}, noise floor {r.Options.NoiseFloor.ToString("G3", C)} (in each op's unit), alpha {r.Options.Alpha.ToString("G3", C)}, {r.Options.Confidence:P0} CI of the Hodges–Lehmann shift; the gate of each op is its ratio to the bare pass where it has one, else its time";
        if (r.Options.Gate == GateFigure.Time)
            rule = rule[..rule.IndexOf("; the gate", StringComparison.Ordinal)] + "; the gate of each op is its time";
        sb.AppendLine(markdown ? $"{rule}\n" : rule);
        foreach (string w in r.Warnings)
            sb.AppendLine(markdown ? $"> warning: {w}\n" : $"warning: {w}");
    }

    private static void Footer(StringBuilder sb, ComparisonReport r, bool markdown)
    {
        if (r.OnlyInBase.Count > 0)
            sb.AppendLine($"only in base (not compared): {string.Join(", ", r.OnlyInBase)}");
        if (r.OnlyInNew.Count > 0)
            sb.AppendLine($"only in new (not compared): {string.Join(", ", r.OnlyInNew)}");
        sb.AppendLine(markdown ? $"\n**{Summary(r)}**" : Summary(r));
    }

    private static string Describe(Model.ResultSet s)
    {
        var e = s.Environment;
        string commit = Comparer.Short(e.Commit) + (e.Dirty == true ? "+dirty" : "");
        string load = e.LoadBefore is { Count: > 0 } lb ? $", load {lb[0].ToString("F2", C)}" + (e.LoadAfter is { Count: > 0 } la ? $"->{la[0].ToString("F2", C)}" : "") : "";
        return $"{commit}, {s.Source}, {s.SamplesKind}{(e.Time is { } t ? ", " + t.UtcDateTime.ToString("yyyy-MM-dd HH:mm", C) + " UTC" : "")}{load}";
    }

    private static void Side(Utf8JsonWriter w, string name, Model.ResultSet s)
    {
        w.WriteStartObject(name);
        if (s.Environment.Commit != null)
            w.WriteString("commit", s.Environment.Commit);
        if (s.Environment.Dirty is bool d)
            w.WriteBoolean("dirty", d);
        w.WriteString("source", s.Source);
        w.WriteString("samples_kind", s.SamplesKind);
        w.WriteString("cpu_key", s.Environment.CpuKey);
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v))
            w.WriteNumber(name, v);
        else
            w.WriteNull(name);
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (string v in values)
            w.WriteStringValue(v);
        w.WriteEndArray();
    }
}
