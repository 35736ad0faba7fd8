using System.Diagnostics;

namespace FastPT.Scenarios.Tests.Cli;

/// <summary>`fastpt script` as a process: exit codes, stdout report, stderr error line.</summary>
[Collection("Kernel")]
public sealed class ScriptCommandTests
{
    // Run the CLI from its own build output, as a user would.
    private static string CliDll()
    {
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        return Path.Combine(TestPaths.Root, "src", "FastPT.Cli", "bin", configuration, "net10.0", "FastPT.Cli.dll");
    }

    private static (int Code, string Stdout, string Stderr) Fastpt(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(CliDll());
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "fastpt did not exit within 60 s");
        return (p.ExitCode, stdout.Result, stderr);
    }

    [SkippableFact]
    public void Kernel_run_prints_the_golden_report()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap");
        Assert.True(File.Exists(CliDll()), $"{CliDll()} missing (this project references FastPT.Cli, so a build makes it)");
        var (code, stdout, stderr) = Fastpt("script", "--kernel", Path.Combine(TestPaths.Scenarios, "spec-example.script"));
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllText(Path.Combine(TestPaths.Scenarios, "spec-example.expected")), stdout);
    }

    [SkippableFact]
    public void Bad_input_exits_2_with_the_report_before_it()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap");
        Assert.True(File.Exists(CliDll()), $"{CliDll()} missing (this project references FastPT.Cli, so a build makes it)");
        var name = Path.Combine(TestPaths.Scenarios, "error-unknown-region");
        var (code, stdout, stderr) = Fastpt("script", "--kernel", name + ".script");
        Assert.Equal(2, code);
        Assert.Equal(File.ReadAllText(name + ".expected"), stdout);
        Assert.Equal(File.ReadAllText(name + ".error"), stderr);
    }

    [Fact]
    public void Missing_file_exits_2_and_names_it()
    {
        Assert.True(File.Exists(CliDll()), $"{CliDll()} missing (this project references FastPT.Cli, so a build makes it)");
        var (code, stdout, stderr) = Fastpt("script", "--kernel", "/nonexistent/x.script");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("cannot read script '/nonexistent/x.script'", stderr);
    }
}
