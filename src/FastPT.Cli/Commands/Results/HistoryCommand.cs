using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastPT.Results.Compare;
using FastPT.Results.History;
using FastPT.Results.Import;
using FastPT.Results.Model;

namespace FastPT.Cli.Commands.Results;

/// <summary>`fastpt history add RESULT...` and `fastpt history check`: the per-machine history and its change points.</summary>
internal static class HistoryCommand
{
    public static Command Create()
    {
        var cmd = new Command("history", "The regression history (perf/history/<cpu-key>.jsonl): add runs, find change points.");
        cmd.Subcommands.Add(Add());
        cmd.Subcommands.Add(Check());
        return cmd;
    }

    private static Command Add()
    {
        var files = new Argument<string[]>("result") { Description = "A run (results v1, fastpt bench JSON or a BenchmarkDotNet report); several only for legacy runs of one commit, which merge into one entry", Arity = ArgumentArity.OneOrMore };
        var commit = new Option<string?>("--commit") { Description = "The commit the run measured, for files that do not say (BenchmarkDotNet reports)" };
        var dirty = new Option<bool>("--allow-dirty") { Description = "Accept a run built from a tree with uncommitted changes" };
        var cmd = new Command("add", "Append a run to its machine's history file (written whole, then renamed into place).")
        {
            files, commit, dirty, ResultsCli.HistoryDir,
        };
        cmd.SetAction(parse => CliErrors.Run("history add", () =>
        {
            string[] paths = parse.GetValue(files)!;
            var sets = paths.Select(p => (Set: ResultsReader.Load(p), Origin: p)).ToList();
            ResultSet set;
            if (sets.Count == 1)
                set = sets[0].Set;
            else if (sets.All(s => s.Set.SamplesKind == SamplesKinds.RunMedians))
                set = LegacyBenchImporter.MergeRuns(sets);
            else
                throw new CliInputException("give one run; several files merge only when each is one run of an old fastpt bench (one median per operation)");
            if (parse.GetValue(commit) is string c)
                set = set with { Environment = set.Environment with { Commit = c } };
            var store = new HistoryStore(parse.GetValue(ResultsCli.HistoryDir)!);
            string path = store.Append(set, paths[0], parse.GetValue(dirty));
            var e = set.Environment;
            Console.WriteLine($"added {e.Commit?[..Math.Min(12, e.Commit.Length)]} ({set.Results.Count} operations, {set.SamplesKind}) to {path}: {store.Read(e.CpuKey).Count} entries");
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static Command Check()
    {
        var since = new Option<string?>("--since") { Description = "Report only change points after this commit (a prefix of it) in the history" };
        var format = new Option<string>("--format") { Description = "text, markdown or json", DefaultValueFactory = _ => "text" };
        var cmd = new Command("check", "Find change points in a machine's history (ED-PELT, confirmed by the compare rules) and name the commit range where each figure moved. Exit 0 none slower, 1 some slower, 2 bad input.")
        {
            since, format, ResultsCli.HistoryDir, ResultsCli.Cpu, ResultsCli.Threshold, ResultsCli.Noise, ResultsCli.Alpha,
        };
        cmd.SetAction(parse => CliErrors.Run("history check", () =>
        {
            var o = ResultsCli.Options(parse);
            string fmt = parse.GetValue(format)!;
            if (fmt is not ("text" or "markdown" or "json"))
                throw new CliInputException($"--format {fmt}: use text, markdown or json");
            var (store, key) = ResultsCli.History(parse);
            var history = store.Read(key);
            int first = 0;
            if (parse.GetValue(since) is string s)
            {
                int at = history.ToList().FindIndex(h => h.Environment.Commit?.StartsWith(s, StringComparison.OrdinalIgnoreCase) == true);
                if (at < 0)
                    throw new CliInputException($"--since {s}: no entry of {store.PathFor(key)} is of that commit");
                first = at;
            }
            var points = ChangePoints.Find(history, o).Where(p => p.Before >= first).ToList();
            Console.Write(fmt switch
            {
                "json" => Json(points),
                _ => Text(points, history, store.PathFor(key), fmt == "markdown"),
            });
            return points.Any(p => p.Verdict == Verdict.Slower) ? ExitCodes.Failed : ExitCodes.Ok;
        }));
        return cmd;
    }

    private static string Text(List<ChangePoint> points, IReadOnlyList<ResultSet> history, string path, bool markdown)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{path}: {history.Count} entries, {points.Count} change points");
        foreach (var p in points)
        {
            var c = p.Comparison;
            string line = string.Create(CultureInfo.InvariantCulture,
                $"{p.Op} {(p.Figure == Comparer.TimeFigure ? "time" : p.Figure)}: {ComparisonFormatter.Name(p.Verdict)} {ComparisonFormatter.Percent(c.Relative)} [{ComparisonFormatter.Percent(c.RelativeLow)}, {ComparisonFormatter.Percent(c.RelativeHigh)}] ({c.BaseMedian:G4} -> {c.NewMedian:G4} {c.Unit}) in {Short(p.BeforeCommit)}..{Short(p.AfterCommit)}");
            sb.AppendLine(markdown ? $"- {line}" : $"  {line}");
        }
        int slower = points.Count(p => p.Verdict == Verdict.Slower);
        sb.AppendLine(slower == 0 ? "no figure moved slower" : $"{slower} figures moved slower: {string.Join(", ", points.Where(p => p.Verdict == Verdict.Slower).Select(p => p.Op).Distinct())}");
        return sb.ToString();
    }

    private static string Json(List<ChangePoint> points)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var p in points)
            {
                w.WriteStartObject();
                w.WriteString("op", p.Op);
                w.WriteString("figure", p.Figure);
                w.WriteString("verdict", ComparisonFormatter.Name(p.Verdict));
                w.WriteString("last_before", p.BeforeCommit);
                w.WriteString("first_after", p.AfterCommit);
                w.WriteNumber("before_median", p.Comparison.BaseMedian);
                w.WriteNumber("after_median", p.Comparison.NewMedian);
                w.WriteNumber("relative", p.Comparison.Relative);
                w.WriteNumber("relative_low", p.Comparison.RelativeLow);
                w.WriteNumber("relative_high", p.Comparison.RelativeHigh);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static string Short(string? c) => c is { Length: > 8 } ? c[..8] : c ?? "?";
}
