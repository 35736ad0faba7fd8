using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FastPT.Linux;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Replay;
using Spectre.Console;

namespace FastPT.Cli.Commands;

/// <summary>
/// `fastpt replay TRACE`: replay a .nettrace into address spaces and report speed, footprint and
/// digests. Warm by default (untimed passes for a second first, so the JIT is not timed); `--target kernel`
/// replays the same operations on the live kernel too, interleaved with the engine in one run.
/// </summary>
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
            Description = "engine: FastPT's memory model; kernel: the same operations on the live kernel (real memory of this process, relocated into a reservation), timed beside the engine.",
            DefaultValueFactory = _ => TraceReplay.DefaultTarget,
        };
        target.AcceptOnlyFromAmong([.. TraceReplay.Targets]);
        var repetitions = new Option<int>("--repetitions")
        {
            Description = "Timed passes of each target (the figures are medians).",
            DefaultValueFactory = _ => 5,
        };
        var cold = new Option<bool>("--cold") { Description = "No untimed warm-up passes: the first pass then includes JIT compilation." };
        var cmd = new Command("replay", "Replay a trace into address spaces: operations per second (warm), pages touched, tables in use, digests of the final state; --target kernel times the live kernel beside the engine.")
        {
            trace, snapshotEvery, json, target, repetitions, cold,
        };
        cmd.SetAction(parse => CliErrors.Run("replay", () =>
        {
            string path = parse.GetValue(trace)!;
            long every = parse.GetValue(snapshotEvery);
            bool asJson = parse.GetValue(json);
            string into = parse.GetValue(target)!;
            int reps = parse.GetValue(repetitions);
            bool warm = !parse.GetValue(cold);
            if (every < 0)
                throw new CliInputException($"--snapshot-every {every}: must be 0 (off) or a positive number of operations");
            if (reps < 1)
                throw new CliInputException($"--repetitions {reps}: must be at least 1");
            string[] targets = into == "kernel" ? ["engine", "kernel"] : [into];
            (IReadOnlyList<ReplayMeasurement> m, TraceReadSummary s) Work(Action<string> status)
            {
                status("reading the trace");
                var (ops, summary) = NettraceReader.ReadAll(path);
                status($"replaying {ops.Count:N0} operations into {string.Join(" and ", targets)}");
                return (TraceReplay.Measure(ops, targets, every, reps, warm), summary);
            }
            var (measured, s) = asJson || Console.IsOutputRedirected
                ? Work(_ => { })
                : AnsiConsole.Status().Start("replaying", ctx => Work(text => ctx.Status(text)));
            if (asJson)
                PrintJson(path, measured, s);
            else
                PrintTable(path, measured, s);
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static string Timing(ReplayMeasurement m) =>
        m.Warm ? $"warm (after {TraceReplay.WarmUpSeconds:0.#} s of untimed passes), median of {m.Seconds.Count}" : $"cold (the first pass includes JIT compilation), median of {m.Seconds.Count}";

    private static string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static void PrintTable(string path, IReadOnlyList<ReplayMeasurement> measured, TraceReadSummary s)
    {
        ReplayMeasurement engine = measured[0];
        ReplayResult r = engine.Result;
        var t = new Table().Border(TableBorder.Ascii).AddColumn("replay").AddColumn(new TableColumn(Path.GetFileName(path)).RightAligned());
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
        if (s.Info is { } info)
            Row("recorded", $"{info.Command} ({info.Tool})");
        Row("targets", string.Join(", ", measured.Select(m => m.Result.Target)));
        Row("timing", Timing(engine));
        Row("operations", N(r.Operations));
        Row("by kind", string.Join(", ", r.OperationsByKind.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var m in measured)
            Row($"operations/s ({m.Result.Target})", N(m.OperationsPerSecond));
        if (measured.Count == 2)
            Row("engine vs kernel", $"{measured[0].OperationsPerSecond / measured[1].OperationsPerSecond:F2}x the kernel's operations/s");
        Row("address spaces", r.Spaces.ToString(CultureInfo.InvariantCulture));
        Row("pages touched", N(r.PagesTouched));
        if (r.TablesInUse is long tables)
            Row("tables in use", N(tables));
        Row("segv / wp faults", $"{r.Segvs} / {r.WpFaults}");
        if (r.Snapshots > 0)
            Row("snapshots / pages copied", $"{r.Snapshots} / {r.SnapshotCopies}");
        if (r.DigestHex is { } digest)
            Row("digest (tables)", digest);
        foreach (var m in measured)
            Row($"pagemap digest ({m.Result.Target})", m.Result.PagemapDigestHex);
        if (measured.Count == 2)
            Row("engine and kernel", measured[0].Result.PagemapDigest == measured[1].Result.PagemapDigest
                ? "same pagemap state on every touched page" : "DIFFERENT pagemap state on some touched page");
        AnsiConsole.Write(t);
    }

    private static void PrintJson(string path, IReadOnlyList<ReplayMeasurement> measured, TraceReadSummary s)
    {
        ReplayResult r = measured[0].Result;
        var o = new Dictionary<string, object?>
        {
            ["trace"] = path,
            ["command"] = s.Info?.Command,
            ["target"] = measured[^1].Result.Target,
            ["warm"] = measured[0].Warm,
            ["repetitions"] = measured[0].Seconds.Count,
            ["operations"] = r.Operations,
            ["seconds"] = measured[0].MedianSeconds,
            ["operationsPerSecond"] = Math.Round(measured[0].OperationsPerSecond),
            ["spaces"] = r.Spaces,
            ["pagesTouched"] = r.PagesTouched,
            ["tablesInUse"] = r.TablesInUse,
            ["segvs"] = r.Segvs,
            ["wpFaults"] = r.WpFaults,
            ["snapshots"] = r.Snapshots,
            ["snapshotCopies"] = r.SnapshotCopies,
            ["operationsByKind"] = r.OperationsByKind,
            ["digest"] = r.DigestHex,
            ["pagemapDigest"] = r.PagemapDigestHex,
        };
        if (measured.Count == 2)
        {
            ReplayMeasurement k = measured[1];
            o["kernel"] = new Dictionary<string, object?>
            {
                ["seconds"] = k.MedianSeconds,
                ["operationsPerSecond"] = Math.Round(k.OperationsPerSecond),
                ["segvs"] = k.Result.Segvs,
                ["wpFaults"] = k.Result.WpFaults,
                ["pagemapDigest"] = k.Result.PagemapDigestHex,
            };
            o["engineVsKernel"] = Math.Round(measured[0].OperationsPerSecond / k.OperationsPerSecond, 2);
            o["samePagemapState"] = r.PagemapDigest == k.Result.PagemapDigest;
        }
        Console.WriteLine(JsonSerializer.Serialize(o));
    }
}
