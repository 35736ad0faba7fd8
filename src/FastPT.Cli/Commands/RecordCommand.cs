using System.CommandLine;
using FastPT.Traces.Operations;
using FastPT.Traces.Perf;

namespace FastPT.Cli.Commands;

/// <summary>`fastpt record -o FILE.nettrace -- COMMAND ...`: a real program's memory behaviour as FastPT events.</summary>
internal static class RecordCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "The .nettrace file to write (e.g. traces/ls.nettrace).",
            Required = true,
        };
        var pids = new Option<int[]>("--pid")
        {
            Description = "Keep only these pids (repeatable); default: every process the command starts.",
            AllowMultipleArgumentsPerToken = true,
        };
        var fromPerfData = new Option<string?>("--from-perf-data")
        {
            Description = "Convert an existing perf.data (recorded with the same tracepoints) instead of running a command.",
        };
        var command = new Argument<string[]>("command")
        {
            Description = "The program and its arguments, after `--`.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var cmd = new Command("record", "Run a program under perf (page faults, mmap/munmap/mprotect/madvise/brk) and write its memory operations as a FastPT .nettrace.")
        {
            output, pids, fromPerfData, command,
        };
        cmd.SetAction(parse => CliErrors.Run("record", () =>
        {
            string path = parse.GetValue(output)!;
            string[] argv = parse.GetValue(command) ?? [];
            int[]? filter = parse.GetValue(pids) is { Length: > 0 } p ? p : null;
            string? perfData = parse.GetValue(fromPerfData);
            foreach (int pid in filter ?? [])
            {
                if (pid <= 0)
                    throw new CliInputException($"--pid {pid}: process ids are positive numbers");
            }
            if (perfData is null && argv.Length == 0)
                throw new CliInputException("no command to record: put it after `--`, e.g. `fastpt record -o traces/ls.nettrace -- ls -l`, or convert a recording with --from-perf-data FILE");
            if (perfData is not null && !File.Exists(perfData))
                throw new CliInputException($"--from-perf-data {perfData}: no such file; give a perf.data recorded with the tracepoints `fastpt record` uses");
            // Before the program runs, so a bad -o costs a second, not the recording.
            AtomicFile.CheckWritable(path, "-o");
            RecordSummary s = AtomicFile.Write(path, temp => perfData is not null
                ? PerfRecorder.Convert(perfData, temp, string.Join(' ', argv), filter, Console.Error)
                : PerfRecorder.Record(temp, argv, filter, Console.Error));
            Console.WriteLine($"wrote {path}: {s.Bytes} bytes, {s.Total} operations");
            foreach (TraceOpKind k in Enum.GetValues<TraceOpKind>())
            {
                if (s.Count(k) > 0)
                    Console.WriteLine($"  {k,-14} {s.Count(k),10}");
            }
            Console.WriteLine($"  tracked pids: {string.Join(' ', s.TrackedPids)}");
            Console.WriteLine($"  implicit regions (mapped before tracing): {s.ImplicitRegions}; failed syscalls ignored: {s.FailedSyscalls}; perf lost events: {s.LostEvents}");
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
