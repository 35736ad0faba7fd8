namespace FastPT.Scenarios.Tests.Cli;

/// <summary>`fastpt script` as a process: exit codes, stdout report, stderr error line.</summary>
[Collection("Kernel")]
public sealed class ScriptCommandTests
{
    private static (int Code, string Stdout, string Stderr) Fastpt(params string[] args) => CliProcess.Run(args);

    [SkippableFact]
    public void Kernel_run_prints_the_golden_report()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap");
        var (code, stdout, stderr) = Fastpt("script", "--kernel", Path.Combine(TestPaths.Scenarios, "spec-example.script"));
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllText(Path.Combine(TestPaths.Scenarios, "spec-example.expected")), stdout);
    }

    [SkippableFact]
    public void Bad_input_exits_2_with_the_report_before_it()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap");
        var name = Path.Combine(TestPaths.Scenarios, "error-unknown-region");
        var (code, stdout, stderr) = Fastpt("script", "--kernel", name + ".script");
        Assert.Equal(2, code);
        Assert.Equal(File.ReadAllText(name + ".expected"), stdout);
        Assert.Equal(File.ReadAllText(name + ".error"), stderr);
    }

    [Fact]
    public void Missing_file_exits_2_and_names_it()
    {
        var (code, stdout, stderr) = Fastpt("script", "--kernel", "/nonexistent/x.script");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("cannot read script '/nonexistent/x.script'", stderr);
    }
}
