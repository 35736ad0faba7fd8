using System.CommandLine;
using System.Globalization;
using FastPT.Benchmarks.Runner;
using FastPT.Results.Model;
using Spectre.Console;

namespace FastPT.Cli.Commands;

/// <summary>
/// `fastpt bench`: the built-in workload (engine, live kernel, bare pass, scalar twin in one
/// run), printed per operation as ns/page, pages/s and same-run ratios, or as JSON.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the run in the results format v1 (docs/results-format.md) instead of the table" };
        var quick = new Option<bool>("--quick") { Description = "Smaller ranges and fewer repetitions (DRAM range 64 GiB, 5 repetitions)" };
        var reps = new Option<int?>("--repetitions") { Description = "Timed repetitions per measurement (all kept; the table shows medians); default 9" };
        var noKernel = new Option<bool>("--no-kernel") { Description = "Skip the live-kernel baselines (userfaultfd, PAGEMAP_SCAN)" };
        var only = new Option<string[]>("--only")
        {
            Description = $"Run only the steps whose name contains one of these words (steps: {string.Join(", ", BenchSuite.Steps)})",
            AllowMultipleArgumentsPerToken = true,
        };
        var cmd = new Command("bench", "Time FastPT's batch operations against the live kernel and a bare load+store pass over the same tables.")
        {
            json, quick, reps, noKernel, only,
        };
        cmd.SetAction(parse => CliErrors.Run("bench", () =>
        {
            var o = parse.GetValue(quick) ? new BenchOptions(DramBytes: 64UL << 30, Repetitions: 5) : new BenchOptions();
            int? r = parse.GetValue(reps);
            if (r is < 1 or > 1000)
                throw new CliInputException($"--repetitions {r}: out of range; use 1..1000");
            if (r != null)
                o = o with { Repetitions = r.Value };
            if (parse.GetValue(noKernel))
                o = o with { Kernel = false };
            string[] steps = parse.GetValue(only) ?? [];
            if (steps.Length > 0)
            {
                string[] unknown = [.. steps.Where(w => !BenchSuite.Steps.Any(s => s.Contains(w, StringComparison.OrdinalIgnoreCase)))];
                if (unknown.Length > 0)
                    throw new CliInputException($"--only {string.Join(' ', unknown)}: matches no step; use part of one of: {string.Join(", ", BenchSuite.Steps)}");
                o = o with { Only = steps };
            }
            _ = FastPT.Kernels.KernelIsas.Selected; // a bad FASTPT_ISA fails here (exit 2), before any work
            try
            {
                var report = RunWithProgress(o, parse.GetValue(json), string.Join(' ', parse.Tokens.Select(t => t.Value)));
                if (parse.GetValue(json))
                    Console.WriteLine(ResultsJson.Serialize(report.ToResultSet()));
                else
                    PrintTable(report);
                return ExitCodes.Ok;
            }
            catch (InvalidOperationException e)
            {
                // A measurement that could not be made (e.g. a kernel baseline the machine refused).
                return CliErrors.Report("bench", e.Message, ExitCodes.Failed);
            }
        }));
        return cmd;
    }

    private static BenchReport RunWithProgress(BenchOptions o, bool json, string args)
    {
        // A terminal gets a live progress display; pipes and CI get one plain line per step (on stderr with --json).
        bool interactive = !Console.IsErrorRedirected && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!interactive)
        {
            var log = json ? Console.Error : Console.Out;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            return BenchSuite.Run(o, step => log.WriteLine($"[{sw.Elapsed.TotalSeconds,6:F1}s] {step}"), args);
        }
        BenchReport? report = null;
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask("bench", maxValue: BenchSuite.Steps.Length);
            int done = -1;
            report = BenchSuite.Run(o, step =>
            {
                done++;
                task.Value = done;
                task.Description = step;
            }, args);
            task.Value = BenchSuite.Steps.Length;
        });
        return report!;
    }

    private static void PrintTable(BenchReport report)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine($"cpu: {report.Cpu}   isa: {report.Isa}   load: {Load(report.Environment.LoadBefore)} -> {Load(report.Environment.LoadAfter)}   (medians of every repetition; ratios measured in this run)");
        Console.WriteLine($"{"op",-28} {"pages",12} {"ns/page",9} {"pages/s",10} {"vs kernel",10} {"vs bare",8} {"scalar",8}");
        foreach (var r in report.Results)
        {
            string kernel = r.KernelSpeedup is double k ? string.Create(c, $"{k:F1}x") : "-";
            string bare = r.BareRatio is double b ? string.Create(c, $"{b:F2}x") : "-";
            string scalar = r.ScalarNsPerPage is double s ? string.Create(c, $"{s:F2}") : "-";
            Console.WriteLine(string.Create(c, $"{r.Op,-28} {r.Units,12} {r.NsPerPage,9:F3} {r.PagesPerSecond,10:G3} {kernel,10} {bare,8} {scalar,8}"));
            if (r.Note != null)
                Console.WriteLine($"    {r.Note}");
        }
        Console.WriteLine("units: ns per page unless the op's note says otherwise (translate: per translation, fault: per round trip)");
        Console.WriteLine("vs kernel = how many times faster than the kernel doing the same job; vs bare = engine time / bare SIMD load+store pass (1.00 = hardware limit)");
    }

    private static string Load(IReadOnlyList<double>? load) =>
        load is { Count: > 0 } ? string.Join(' ', load.Select(l => l.ToString("F2", CultureInfo.InvariantCulture))) : "?";
}
