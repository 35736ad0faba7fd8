using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;
using FastPT.Traces.Perf;
using FastPT.Traces.Replay;
using FastPT.Traces.Tests.Nettrace;

namespace FastPT.Traces.Tests.Perf;

/// <summary>`fastpt record` end to end: a real program under perf, into a .nettrace, replayed.</summary>
[Collection(EventPipeCollection.Name)]
public class PerfRecorderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-record-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string? PerfProblem()
    {
        try
        {
            PerfRecorder.CheckPerf();
        }
        catch (RecordException e)
        {
            return e.Message;
        }
        if (Environment.UserName != "root")
            return "perf tracepoints need root here";
        return null;
    }

    [SkippableFact]
    public void Records_a_real_program_and_the_trace_replays_into_the_engine()
    {
        string? why = PerfProblem();
        Skip.If(why is not null, why);
        string path = Path.Combine(_dir, "sort.nettrace");
        string input = Path.Combine(_dir, "lines.txt");
        File.WriteAllLines(input, Enumerable.Range(0, 50_000).Select(i => ((i * 7919) % 50_021).ToString("D6")));
        var s = PerfRecorder.Record(path, ["sort", "-o", Path.Combine(_dir, "sorted.txt"), input], null, TextWriter.Null);

        Assert.True(s.Count(TraceOpKind.Access) > 100, $"accesses: {s.Count(TraceOpKind.Access)}");
        Assert.True(s.Count(TraceOpKind.MapRegion) > 5);
        Assert.Single(s.TrackedPids);
        var (ops, summary) = NettraceReader.ReadAll(path);
        Assert.Equal(s.Total, ops.Count);
        Assert.Equal("sort -o " + Path.Combine(_dir, "sorted.txt") + " " + input, summary.Info!.Command);

        var (r, _) = TraceReplay.Run(path, "engine", 0);
        Assert.Equal(0, r.Segvs);
        Assert.True(r.PagesTouched > 100);
        Assert.Equal(r.DigestHex, TraceReplay.Run(path, "engine", 0).Result.DigestHex);
    }

    [SkippableFact]
    public void A_failing_program_is_a_clear_error_and_writes_nothing()
    {
        string? why = PerfProblem();
        Skip.If(why is not null, why);
        string path = Path.Combine(_dir, "fail.nettrace");
        var ex = Assert.Throws<RecordException>(() => PerfRecorder.Record(path, ["ls", Path.Combine(_dir, "does-not-exist")], null, TextWriter.Null));
        Assert.Contains("failed under perf record (exit code", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Missing_perf_is_a_clear_error_with_the_install_command()
    {
        // Run the check in-process with an impossible perf path instead of touching PATH.
        string? old = Environment.GetEnvironmentVariable("FASTPT_PERF");
        Environment.SetEnvironmentVariable("FASTPT_PERF", Path.Combine(_dir, "no-such-perf"));
        try
        {
            var ex = Assert.Throws<RecordException>(() => PerfRecorder.Record(Path.Combine(_dir, "x.nettrace"), ["true"], null, TextWriter.Null));
            Assert.Contains("apt-get install -y linux-perf", ex.Message, StringComparison.Ordinal);
            Assert.Contains("perf is not installed", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("FASTPT_PERF", old);
        }
    }

    [Fact]
    public void No_command_is_a_clear_error()
    {
        var ex = Assert.Throws<RecordException>(() => PerfRecorder.Record(Path.Combine(_dir, "x.nettrace"), [], null, TextWriter.Null));
        Assert.Contains("after `--`", ex.Message, StringComparison.Ordinal);
    }
}
