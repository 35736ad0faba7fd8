using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Replay;
using Spectre.Console;

namespace FastPT.Cli.Commands;

/// <summary>`fastpt replay TRACE`: stream a .nettrace into address spaces and report speed, footprint and a digest.</summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var trace = new Argument<string>("trace") { Description = "A .nettrace with FastPT events (from `fastpt record` or the FastPT EventSource)." };
        var snapshotEvery = new Option<long>("--snapshot-every")
        {
            Description = "Every N operations write-protect every region (live-snapshot overlay); later stores fault, are copied and resolved. 0 = off.",
            DefaultValueFactory = _ => 0,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var target = new Option<string>("--target")
        {
            Description = $"What to replay into: {string.Join(", ", TraceReplay.Targets.Keys)}.",
            DefaultValueFactory = _ => TraceReplay.DefaultTarget,
        };
        var cmd = new Command("replay", "Replay a trace into address spaces: operations per second, pages touched, tables in use, digest of the final tables.")
        {
            trace, snapshotEvery, json, target,
        };
        cmd.SetAction(parse => CliErrors.Run("replay", () =>
        {
            string path = parse.GetValue(trace)!;
            long every = parse.GetValue(snapshotEvery);
            bool asJson = parse.GetValue(json);
            string into = parse.GetValue(target)!;
            if (every < 0)
                throw new CliInputException($"--snapshot-every {every}: must be 0 (off) or a positive number of operations");
            if (!TraceReplay.Targets.ContainsKey(into))
                throw new CliInputException($"--target {into}: unknown target; use one of {string.Join(", ", TraceReplay.Targets.Keys)}");
            (ReplayResult r, TraceReadSummary s) = asJson || Console.IsOutputRedirected
                ? TraceReplay.Run(path, into, every)
                : AnsiConsole.Status().Start("replaying", ctx =>
                    TraceReplay.Run(path, into, every, n => ctx.Status($"replaying: {n:N0} operations")));
            if (asJson)
                PrintJson(path, r, s);
            else
                PrintTable(path, r, s);
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static void PrintTable(string path, ReplayResult r, TraceReadSummary s)
    {
        var t = new Table().Border(TableBorder.Ascii).AddColumn("replay").AddColumn(new TableColumn(Path.GetFileName(path)).RightAligned());
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
        if (s.Info is { } info)
            Row("recorded", $"{info.Command} ({info.Tool})");
        Row("target", r.Target);
        Row("operations", r.Operations.ToString("N0", CultureInfo.InvariantCulture));
        Row("by kind", string.Join(", ", r.OperationsByKind.Select(kv => $"{kv.Key} {kv.Value}")));
        Row("operations/s", r.OperationsPerSecond.ToString("N0", CultureInfo.InvariantCulture));
        Row("address spaces", r.Spaces.ToString(CultureInfo.InvariantCulture));
        Row("pages touched", r.PagesTouched.ToString("N0", CultureInfo.InvariantCulture));
        Row("tables in use", r.TablesInUse.ToString("N0", CultureInfo.InvariantCulture));
        Row("segv / wp faults", $"{r.Segvs} / {r.WpFaults}");
        if (r.Snapshots > 0)
            Row("snapshots / pages copied", $"{r.Snapshots} / {r.SnapshotCopies}");
        Row("digest", r.DigestHex);
        AnsiConsole.Write(t);
    }

    private static void PrintJson(string path, ReplayResult r, TraceReadSummary s)
    {
        var o = new Dictionary<string, object?>
        {
            ["trace"] = path,
            ["command"] = s.Info?.Command,
            ["target"] = r.Target,
            ["operations"] = r.Operations,
            ["seconds"] = r.Seconds,
            ["operationsPerSecond"] = Math.Round(r.OperationsPerSecond),
            ["spaces"] = r.Spaces,
            ["pagesTouched"] = r.PagesTouched,
            ["tablesInUse"] = r.TablesInUse,
            ["segvs"] = r.Segvs,
            ["wpFaults"] = r.WpFaults,
            ["snapshots"] = r.Snapshots,
            ["snapshotCopies"] = r.SnapshotCopies,
            ["operationsByKind"] = r.OperationsByKind,
            ["digest"] = r.DigestHex,
        };
        Console.WriteLine(JsonSerializer.Serialize(o));
    }
}
