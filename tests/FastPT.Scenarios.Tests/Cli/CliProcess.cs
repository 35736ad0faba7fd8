using System.Diagnostics;

namespace FastPT.Scenarios.Tests.Cli;

/// <summary>Runs the built `fastpt` CLI as a user would: a separate process, its exit code, stdout and stderr.</summary>
internal static class CliProcess
{
    public static string Dll()
    {
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        return Path.Combine(TestPaths.Root, "src", "FastPT.Cli", "bin", configuration, "net10.0", "FastPT.Cli.dll");
    }

    public static (int Code, string Stdout, string Stderr) Run(params string[] args) => Run(null, args);

    /// <param name="env">Extra environment variables for the process (null: none).</param>
    public static (int Code, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        Assert.True(File.Exists(Dll()), $"{Dll()} missing (this project references FastPT.Cli, so a build makes it)");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add(Dll());
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"fastpt {string.Join(' ', args)} did not exit within 120 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
