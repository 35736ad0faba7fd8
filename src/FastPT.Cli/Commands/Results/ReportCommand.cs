using System.CommandLine;
using FastPT.Results.Import;
using FastPT.Results.Model;
using FastPT.Results.Report;

namespace FastPT.Cli.Commands.Results;

/// <summary>`fastpt report --out FILE`: the history (plus a latest run) as one self-contained HTML file.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "The HTML file to write (whole, or not at all)", DefaultValueFactory = _ => "fastpt-report.html" };
        var latest = new Option<string?>("--latest") { Description = "A run not in the history yet, drawn as the newest point and compared with the last entry" };
        var cmd = new Command("report", "Write one self-contained HTML report: per operation its time and paired ratios over the history with confidence bands, change points, the latest compare and each run's load.")
        {
            output, latest, ResultsCli.HistoryDir, ResultsCli.Cpu, ResultsCli.Threshold, ResultsCli.Noise, ResultsCli.Alpha, ResultsCli.Gate,
        };
        cmd.SetAction(parse => CliErrors.Run("report", () =>
        {
            var o = ResultsCli.Options(parse);
            ResultSet? run = parse.GetValue(latest) is string l ? ResultsReader.Load(l) : null;
            string key;
            IReadOnlyList<ResultSet> history;
            var store = new FastPT.Results.History.HistoryStore(parse.GetValue(ResultsCli.HistoryDir)!);
            if (run != null && parse.GetValue(ResultsCli.Cpu) == null)
            {
                // The latest run picks the machine; it may have no history yet.
                key = run.Environment.CpuKey;
                history = store.Keys().Contains(key) ? store.Read(key) : [];
            }
            else
            {
                (_, key) = ResultsCli.History(parse);
                history = store.Read(key);
            }
            string path = parse.GetValue(output)!;
            ResultsCli.Write(path, HtmlReport.Render(key, history, run, o));
            Console.WriteLine($"wrote {path}: {history.Count + (run == null ? 0 : 1)} runs of {key}");
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
