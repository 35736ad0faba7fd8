using System.Diagnostics;
using FastPT.Results.Model;
using FastPT.Results.Tests.Compare;

namespace FastPT.Results.Tests.Cli;

/// <summary>`fastpt compare|history|report|export` as processes: exit 0 no regression, 1 regression, 2 bad input; one error line.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string CliDll()
    {
        string configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        return Path.Combine(TestData.Root, "src", "FastPT.Cli", "bin", configuration, "net10.0", "FastPT.Cli.dll");
    }

    private static (int Code, string Stdout, string Stderr) Fastpt(params string[] args)
    {
        Assert.True(File.Exists(CliDll()), $"{CliDll()} missing (this project builds FastPT.Cli)");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(CliDll());
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "fastpt did not exit within 60 s");
        return (p.ExitCode, stdout.Result, stderr);
    }

    private string Planted()
    {
        string path = Path.Combine(_dir, "slow.json");
        File.WriteAllText(path, ResultsJson.Serialize(TestData.Scaled(TestData.Load("same-build-a.json"), CompareTests.PlantedV1Op, 3)));
        return path;
    }

    [Fact]
    public void Compare_exits_0_for_runs_of_one_build()
    {
        var (code, stdout, stderr) = Fastpt("compare", TestData.Path("same-build-a.json"), TestData.Path("same-build-b.json"));
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("no regression", stdout);
    }

    [Fact]
    public void Compare_exits_1_naming_the_slower_operation()
    {
        var (code, stdout, _) = Fastpt("compare", TestData.Path("same-build-a.json"), Planted(), "--format", "markdown");
        Assert.Equal(1, code);
        Assert.Contains($"regression: {CompareTests.PlantedV1Op} (+", stdout);
    }

    [Fact]
    public void Compare_writes_json_to_a_file_whole()
    {
        string outFile = Path.Combine(_dir, "cmp.json");
        var (code, stdout, _) = Fastpt("compare", TestData.Path("same-build-a.json"), Planted(), "--format", "json", "--out", outFile);
        Assert.Equal(1, code);
        Assert.StartsWith("regression:", stdout);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(outFile));
        Assert.Equal(CompareTests.PlantedV1Op, doc.RootElement.GetProperty("regressions")[0].GetString());
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Theory]
    [InlineData("compare", "/nonexistent.json", "{b}", "fastpt compare: /nonexistent.json: no such file or folder")]
    [InlineData("compare", "{bad}", "{b}", "not valid JSON")]
    [InlineData("compare", "{a}", "{b}", "--threshold ten: not a number", "--threshold", "ten")]
    [InlineData("compare", "{a}", "{b}", "Unrecognized command or argument '--bogus'", "--bogus")]
    [InlineData("compare", "{a}", "{bdn}", "different machines")]
    [InlineData("export", "{a}", null, "--to csv: use github or bencher", "--to", "csv")]
    public void Bad_input_exits_2_with_one_error_line_and_no_stack_trace(string verb, string first, string? second, string expected, params string[] more)
    {
        string bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, "{ not json");
        string Resolve(string s) => s.Replace("{a}", TestData.Path("same-build-a.json"), StringComparison.Ordinal)
            .Replace("{b}", TestData.Path("same-build-b.json"), StringComparison.Ordinal)
            .Replace("{bad}", bad, StringComparison.Ordinal)
            .Replace("{bdn}", TestData.Path("bdn"), StringComparison.Ordinal);
        string[] args = [verb, Resolve(first), .. second == null ? [] : new[] { Resolve(second) }, .. more];
        var (code, _, stderr) = Fastpt(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.True(stderr.TrimEnd().Split('\n').Length <= 2, stderr);
    }

    [Fact]
    public void History_add_check_and_report_work_together()
    {
        string h = Path.Combine(_dir, "history");
        var (code, stdout, stderr) = Fastpt("history", "add", "--history", h, TestData.Path("legacy-0aacfc14-run1.json"), TestData.Path("legacy-0aacfc14-run2.json"));
        Assert.True(code == 0, stderr);
        Assert.Contains("run-medians", stdout);
        (code, _, stderr) = Fastpt("history", "add", "--history", h, "--allow-dirty", TestData.Path("same-build-a.json"));
        Assert.True(code == 0, stderr);
        (code, _, stderr) = Fastpt("history", "add", "--history", h, "--allow-dirty", TestData.Path("same-build-a.json"));
        Assert.Equal(2, code);
        Assert.Contains("already in", stderr);
        (code, stdout, stderr) = Fastpt("history", "check", "--history", h, "--format", "json");
        Assert.True(code is 0 or 1, stderr);
        System.Text.Json.JsonDocument.Parse(stdout).Dispose();
        string report = Path.Combine(_dir, "r.html");
        (code, stdout, stderr) = Fastpt("report", "--history", h, "--latest", TestData.Path("same-build-b.json"), "--out", report);
        Assert.True(code == 0, stderr);
        Assert.Contains("3 runs", stdout);
        Assert.Contains("<svg class=\"chart\"", File.ReadAllText(report));
    }
}
