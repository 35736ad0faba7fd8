using System.CommandLine;
using FastPT.Results.Compare;
using FastPT.Results.Import;

namespace FastPT.Cli.Commands.Results;

/// <summary>`fastpt compare BASE NEW`: per operation the shift with its CI and a verdict; exit 1 names each slower one.</summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var baseArg = new Argument<string>("base") { Description = "The base run: results v1 JSON, fastpt bench JSON, or a BenchmarkDotNet full JSON report (or a folder of them)" };
        var newArg = new Argument<string>("new") { Description = "The new run, in any of the same forms" };
        var format = new Option<string>("--format") { Description = "text, markdown or json", DefaultValueFactory = _ => "text" };
        var output = new Option<string?>("--out") { Description = "Write the table to this file (whole, or not at all) instead of stdout" };
        var other = new Option<bool>("--allow-other-machine") { Description = "Compare runs from different machines (a warning instead of an error)" };
        var cmd = new Command("compare", "Compare two runs: per operation the Hodges-Lehmann shift with its confidence interval and a Mann-Whitney verdict, for times and paired ratios. Exit 0 no regression, 1 regression, 2 bad input.")
        {
            baseArg, newArg, format, output, other,
            ResultsCli.Threshold, ResultsCli.Noise, ResultsCli.Alpha, ResultsCli.Gate,
        };
        cmd.SetAction(parse => CliErrors.Run("compare", () =>
        {
            var o = ResultsCli.Options(parse);
            string fmt = parse.GetValue(format)!;
            if (fmt is not ("text" or "markdown" or "json"))
                throw new CliInputException($"--format {fmt}: use text, markdown or json");
            string b = parse.GetValue(baseArg)!, n = parse.GetValue(newArg)!;
            var report = Comparer.Compare(ResultsReader.Load(b), b, ResultsReader.Load(n), n, o, parse.GetValue(other));
            string text = fmt switch
            {
                "markdown" => ComparisonFormatter.Markdown(report),
                "json" => ComparisonFormatter.Json(report) + "\n",
                _ => ComparisonFormatter.Text(report),
            };
            string? outPath = parse.GetValue(output);
            ResultsCli.Write(outPath, text);
            // The verdict line goes where a reader looks: after the table, or on stderr beside JSON or a file.
            if (outPath != null || fmt == "json")
                (fmt == "json" && outPath == null ? Console.Error : Console.Out).WriteLine(ComparisonFormatter.Summary(report));
            return report.Regressions.Any() ? ExitCodes.Failed : ExitCodes.Ok;
        }));
        return cmd;
    }
}
