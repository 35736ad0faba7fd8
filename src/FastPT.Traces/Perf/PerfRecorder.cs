using System.ComponentModel;
using System.Diagnostics;
using FastPT.Diagnostics;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;

namespace FastPT.Traces.Perf;

/// <summary>
/// `fastpt record`: runs a program under `perf record` with the memory tracepoints, reads
/// `perf script` back with <see cref="PerfScriptParser"/>, maps it with <see cref="PerfImporter"/>,
/// and writes the operations as FastPT events into a .nettrace (<see cref="NettraceWriter"/>).
/// </summary>
public static class PerfRecorder
{
    public static readonly string[] Tracepoints =
    [
        "exceptions:page_fault_user",
        "syscalls:sys_enter_mmap", "syscalls:sys_exit_mmap",
        "syscalls:sys_enter_munmap", "syscalls:sys_exit_munmap",
        "syscalls:sys_enter_mprotect", "syscalls:sys_exit_mprotect",
        "syscalls:sys_enter_madvise",
        "syscalls:sys_enter_brk", "syscalls:sys_exit_brk",
        "sched:sched_process_exec",
    ];

    public const string PerfInstallHint = "install it with `apt-get install -y linux-perf` (check with `perf --version`); tracepoints need root or kernel.perf_event_paranoid <= -1";

    /// <summary>The perf executable: FASTPT_PERF if set, else `perf` on PATH.</summary>
    public static string PerfExecutable => Environment.GetEnvironmentVariable("FASTPT_PERF") is { Length: > 0 } p ? p : "perf";

    /// <summary>Checks that perf runs; returns its version line or throws with the install hint.</summary>
    public static string CheckPerf()
    {
        try
        {
            var (code, output) = Run(PerfExecutable, ["--version"], captureStdout: true);
            if (code != 0)
                throw new RecordException($"`perf --version` exited with {code}: perf is not usable; {PerfInstallHint}.");
            return output.Trim();
        }
        catch (Win32Exception)
        {
            throw new RecordException($"perf is not installed (cannot run `{PerfExecutable}`); {PerfInstallHint}.");
        }
    }

    /// <summary>Records <paramref name="command"/> into <paramref name="output"/> (written in place, deleted on failure: see <see cref="Convert"/>).</summary>
    /// <param name="log">Progress lines for the user (stderr).</param>
    public static RecordSummary Record(string output, IReadOnlyList<string> command, IEnumerable<int>? pidFilter, TextWriter log)
    {
        if (command.Count == 0)
            throw new RecordException("no command to record: put it after `--`, e.g. `fastpt record -o traces/ls.nettrace -- ls -l`.");
        string perfVersion = CheckPerf();
        string tmp = Directory.CreateTempSubdirectory("fastpt-record-").FullName;
        try
        {
            string data = Path.Combine(tmp, "perf.data");
            var args = new List<string> { "record", "-q", "-m", "1024", "-o", data };
            foreach (string t in Tracepoints)
            {
                args.Add("-e");
                args.Add(t);
            }
            args.Add("--");
            args.AddRange(command);
            log.WriteLine($"fastpt record: running `{string.Join(' ', command)}` under {perfVersion}");
            var (code, _) = Run(PerfExecutable, args, captureStdout: false);
            if (code != 0)
                throw new RecordException($"`{string.Join(' ', command)}` failed under perf record (exit code {code}); nothing was written. " +
                    "Check that the command runs on its own, and that perf can use tracepoints (run as root).");
            if (!File.Exists(data))
                throw new RecordException($"perf record wrote no data file ({data}); nothing was written.");
            return Convert(data, output, string.Join(' ', command), pidFilter, log);
        }
        finally
        {
            // A failed clean-up must not replace the error that got us here.
            try
            {
                Directory.Delete(tmp, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.WriteLine($"warning: could not remove the temporary directory {tmp}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Converts an existing perf.data (recorded with <see cref="Tracepoints"/>) into a .nettrace.
    /// <paramref name="output"/> is written in place and deleted if anything fails, so pass a
    /// temporary path to keep an existing file until the new one is complete (`fastpt record`
    /// writes through its AtomicFile).
    /// </summary>
    public static RecordSummary Convert(string perfData, string output, string commandLine, IEnumerable<int>? pidFilter, TextWriter log)
    {
        CheckPerf(); // a missing perf is a clear RecordException, not a failed process start
        var psi = new ProcessStartInfo(PerfExecutable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["script", "-i", perfData, "-F", "comm,pid,tid,time,event,trace", "--show-lost-events"])
            psi.ArgumentList.Add(a);

        var counts = new long[Enum.GetValues<TraceOpKind>().Length];
        PerfImporter? importer = null;
        PerfScriptParser? parser = null;
        bool complete = false;
        try
        {
            NettraceWriter.Record(output, () =>
            {
                using var perf = Process.Start(psi) ?? throw new RecordException("could not start `perf script`.");
                Task<string> stderr = perf.StandardError.ReadToEndAsync();
                parser = new PerfScriptParser(perf.StandardOutput, "perf script");
                var log_ = FastPTEventSource.Log;
                long n = 0;
                importer = new PerfImporter(op =>
                {
                    counts[(int)op.Kind]++;
                    NettraceWriter.Emit([op]);
                    if (++n % 200_000 == 0)
                        Thread.Sleep(100); // let the session's reader drain the buffer before it fills
                }, pidFilter);
                foreach (PerfEvent e in parser.Read())
                    importer.Add(e);
                perf.WaitForExit();
                if (perf.ExitCode != 0)
                    throw new RecordException($"`perf script` failed (exit code {perf.ExitCode}): {stderr.Result.Trim()}");
                log_.TraceInfo("fastpt record (perf " + PerfVersionOrEmpty() + ")", commandLine, parser.LostEvents, parser.SkippedLines);
            });
            // EventPipe drops events silently when its buffer overflows: check the file holds them all.
            long emitted = counts.Sum(), read = 0;
            NettraceReader.Read(output, _ => read++);
            if (read != emitted)
                throw new RecordException($"the EventPipe session kept {read} of {emitted} operations; nothing was written. Retry on a less loaded machine.");
            complete = true;
        }
        finally
        {
            if (!complete)
                File.Delete(output);
        }
        foreach (string w in parser!.Warnings)
            log.WriteLine("warning: " + w);
        return new RecordSummary(output, new FileInfo(output).Length, counts, importer!.TrackedPids, parser.LostEvents,
            importer.ImplicitRegions, importer.FailedSyscalls);
    }

    private static string PerfVersionOrEmpty()
    {
        try { return CheckPerf().Replace("perf version ", "", StringComparison.Ordinal); }
        catch (RecordException) { return ""; }
    }

    private static (int Code, string Stdout) Run(string file, IEnumerable<string> args, bool captureStdout)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = captureStdout };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new RecordException($"could not start `{file}`.");
        string stdout = captureStdout ? p.StandardOutput.ReadToEnd() : "";
        p.WaitForExit();
        return (p.ExitCode, stdout);
    }
}

/// <summary>What `fastpt record` wrote.</summary>
public sealed record RecordSummary(string Path, long Bytes, long[] CountsByKind, IReadOnlyList<int> TrackedPids,
    long LostEvents, long ImplicitRegions, long FailedSyscalls)
{
    public long Count(TraceOpKind kind) => CountsByKind[(int)kind];
    public long Total => CountsByKind.Sum();
}

/// <summary>Recording failed; the message says why and what to do.</summary>
public sealed class RecordException(string message) : Exception(message);
