using FastPT.Cli;
using FastPT.Traces.Nettrace;

namespace FastPT.Scenarios.Tests.Cli;

/// <summary>The CLI's shared pieces in process: the atomic output file and the exception-to-exit-code mapping.</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_successful_writer_replaces_the_target_and_leaves_no_temporary()
    {
        string target = Path.Combine(_dir, "out.txt");
        File.WriteAllText(target, "old");
        string? seen = null;
        int n = AtomicFile.Write(target, temp =>
        {
            seen = temp;
            Assert.Equal(_dir, Path.GetDirectoryName(temp)); // same directory: the rename is atomic
            Assert.Equal("old", File.ReadAllText(target));  // the target is untouched while writing
            File.WriteAllText(temp, "new");
            return 7;
        });
        Assert.Equal(7, n);
        Assert.Equal("new", File.ReadAllText(target));
        Assert.False(File.Exists(seen));
        Assert.Single(Directory.EnumerateFiles(_dir));
    }

    [Fact]
    public void A_failing_writer_leaves_the_target_as_it_was_and_deletes_its_half_written_temporary()
    {
        string target = Path.Combine(_dir, "out.txt");
        File.WriteAllText(target, "old");
        Assert.Throws<IOException>(() => AtomicFile.Write<int>(target, temp =>
        {
            File.WriteAllText(temp, "half");
            throw new IOException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(target));
        Assert.Single(Directory.EnumerateFiles(_dir));
    }

    [Fact]
    public void A_writer_that_writes_nothing_is_an_error_not_an_empty_output()
    {
        string target = Path.Combine(_dir, "out.txt");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(target, _ => 0));
        Assert.Empty(Directory.EnumerateFiles(_dir));
    }

    [Fact]
    public void CheckWritable_refuses_directories_missing_directories_and_unwritable_places()
    {
        Assert.Contains("is a directory", Assert.Throws<CliInputException>(() => AtomicFile.CheckWritable(_dir, "-o")).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<CliInputException>(() => AtomicFile.CheckWritable(Path.Combine(_dir, "no", "x"), "-o")).Message, StringComparison.Ordinal);
        Assert.Contains("cannot write in /proc", Assert.Throws<CliInputException>(() => AtomicFile.CheckWritable("/proc/x.nettrace", "-o")).Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(_dir, "ok.txt"), AtomicFile.CheckWritable(Path.Combine(_dir, "ok.txt"), "-o"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir)); // the probe cleans up after itself
    }
}

/// <summary>Console.Error is process-wide: these run with the other serial tests.</summary>
[Collection("Kernel")]
public sealed class CliErrorsTests
{
    private static (int Code, string Stderr) Run(Func<int> action)
    {
        var old = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try
        {
            return (CliErrors.Run("demo", action), err.ToString());
        }
        finally
        {
            Console.SetError(old);
        }
    }

    [Fact]
    public void An_unexpected_exception_is_one_internal_error_line_exit_1_without_a_stack_trace()
    {
        var (code, stderr) = Run(() => throw new NullReferenceException("boom\nsecond line"));
        Assert.Equal(ExitCodes.Failed, code);
        BadInputTests.AssertOneErrorLine(stderr, "fastpt demo: internal error (NullReferenceException): boom second line; this is a bug");
    }

    public static TheoryData<Exception> BadInput() => new()
    {
        new CliInputException("--x 0: out of range"),
        new TraceFormatException("t.nettrace: truncated"),
        new FastPT.Traces.Perf.PerfScriptFormatException("p:3: bad line"),
        new FastPT.Traces.Perf.RecordException("perf is not installed"),
        new FileNotFoundException("no such file"),
        new UnauthorizedAccessException("denied"),
        new NotSupportedException("no userfaultfd here"),
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void Known_bad_input_and_environment_failures_exit_2_with_their_message(Exception e)
    {
        var (code, stderr) = Run(() => throw e);
        Assert.Equal(ExitCodes.BadInput, code);
        BadInputTests.AssertOneErrorLine(stderr, $"fastpt demo: {e.Message}");
    }

    [Fact]
    public void A_normal_return_passes_its_code_through_and_prints_nothing()
    {
        Assert.Equal((1, ""), Run(() => 1));
    }
}
