using System.CommandLine;
using FastPT.Results.Export;
using FastPT.Results.Import;

namespace FastPT.Cli.Commands.Results;

/// <summary>`fastpt export RESULT --to github|bencher`: a run in another dashboard's format.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("result") { Description = "A run: results v1, fastpt bench JSON, or a BenchmarkDotNet report" };
        var to = new Option<string>("--to") { Description = "github (github-action-benchmark, customSmallerIsBetter) or bencher (Bencher Metric Format)", Required = true };
        var output = new Option<string?>("--out") { Description = "Write to this file (whole, or not at all) instead of stdout" };
        var cmd = new Command("export", "Write a run for an existing dashboard: github-action-benchmark JSON or Bencher BMF.")
        {
            file, to, output,
        };
        cmd.SetAction(parse => CliErrors.Run("export", () =>
        {
            string path = parse.GetValue(file)!;
            var set = ResultsReader.Load(path);
            string text = parse.GetValue(to) switch
            {
                "github" => Exporters.GithubActionBenchmark(set),
                "bencher" => Exporters.BencherMetricFormat(set),
                var t => throw new CliInputException($"--to {t}: use github or bencher"),
            };
            ResultsCli.Write(parse.GetValue(output), text + "\n");
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
