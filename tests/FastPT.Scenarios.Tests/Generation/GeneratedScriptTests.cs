using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Generation;
using FastPT.Scenarios.Language;
using FastPT.Scenarios.Running;
using Xunit.Abstractions;

namespace FastPT.Scenarios.Tests.Generation;

[Collection("Kernel")]
public sealed class GeneratedScriptTests(ITestOutputHelper output)
{
    /// <summary>FASTPT_DIFF_COUNT scripts from FASTPT_DIFF_SEED on.</summary>
    private static (int Seed, int Count) Settings() =>
        (TestPaths.EnvInt("FASTPT_DIFF_SEED", 1), TestPaths.EnvInt("FASTPT_DIFF_COUNT", 20));

    [Fact]
    public void Same_seed_same_script_and_scripts_are_valid()
    {
        var (seed, count) = Settings();
        for (int s = seed; s < seed + Math.Max(count, 200); s++)
        {
            var text = ScriptGenerator.Generate(s);
            Assert.Equal(text, ScriptGenerator.Generate(s));
            var script = Script.Parse(text);
            Assert.True(script.Error is null, $"seed {s}: {script.Error}\n{text}");
        }
        Assert.NotEqual(ScriptGenerator.Generate(seed), ScriptGenerator.Generate(seed + 1));
    }

    [Fact]
    public void Generated_scripts_use_every_statement_and_option()
    {
        var all = string.Concat(Enumerable.Range(1, 300).Select(s => ScriptGenerator.Generate(s)));
        foreach (var word in new[] { "region", " file ", " anon ", " wp", " unpopulated", " async", " thp", "write ", "read ",
                     "zap ", "\nwp ", "unwp ", "protect ", " none", " r\n", " rw", "unregister ", "pagemap ", "scan ",
                     "mask=", "anyof=", "inverted=", "return=", "max=", "0x" })
            Assert.Contains(word, all);
    }

    [SkippableFact]
    public void Generated_scripts_run_on_the_kernel_without_errors_and_deterministically()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap");
        var (seed, count) = Settings();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int s = seed; s < seed + count; s++)
        {
            var text = ScriptGenerator.Generate(s);
            var first = RunKernel(text);
            var second = RunKernel(text);
            Assert.True(first.Code == 0, $"seed {s}: exit {first.Code}: {first.Error}\n{text}");
            Assert.True(first.Report == second.Report, $"seed {s}: two kernel runs differ\n{text}\n--- first\n{first.Report}\n--- second\n{second.Report}");
        }
        output.WriteLine($"{count} scripts x2 in {watch.ElapsedMilliseconds} ms");
    }

    internal static (int Code, string Report, string Error) RunKernel(string text)
    {
        var report = new StringWriter();
        var error = new StringWriter();
        int code = ScriptRunner.Run(text, () => new KernelBackend(), report, error);
        return (code, report.ToString(), error.ToString());
    }
}
