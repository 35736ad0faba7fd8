using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Generation;
using FastPT.Scenarios.Running;
using Xunit.Abstractions;

namespace FastPT.Scenarios.Tests.Differential;

/// <summary>
/// The randomized differential check: generated scripts run on the engine and on the live
/// kernel must print identical reports. FASTPT_DIFF_SEED (default 1) and FASTPT_DIFF_SCRIPTS
/// (default 500 in CI; raise it locally) choose the scripts; a mismatch names its seed so
/// `fastpt script` can replay it on both sides.
/// </summary>
[Collection("Kernel")]
public sealed class EngineVsKernelTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Engine_and_kernel_print_identical_reports()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap and userfaultfd (the kernel oracle)");
        int seed = TestPaths.EnvInt("FASTPT_DIFF_SEED", 1);
        int count = TestPaths.EnvInt("FASTPT_DIFF_SCRIPTS", 500);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var mismatches = new List<string>();
        for (int s = seed; s < seed + count && mismatches.Count < 3; s++)
        {
            var text = ScriptGenerator.Generate(s);
            var kernel = Run(text, () => new KernelBackend());
            var engine = Run(text, () => new EngineBackend());
            if (kernel != engine)
                mismatches.Add($"seed {s} (replay: FASTPT_DIFF_SEED={s} FASTPT_DIFF_SCRIPTS=1)\n{text}\n{FirstDifference(kernel, engine)}");
        }
        output.WriteLine($"seeds {seed}..{seed + count - 1}: {count} scripts, {mismatches.Count} mismatches, {watch.ElapsedMilliseconds} ms");
        Assert.True(mismatches.Count == 0, string.Join("\n\n", mismatches));
    }

    private static string Run(string text, Func<IScenarioBackend> backend)
    {
        var report = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        int code = ScriptRunner.Run(text, backend, report, error);
        return $"{report}exit {code}\n{error}";
    }

    private static string FirstDifference(string kernel, string engine)
    {
        var k = kernel.Split('\n');
        var e = engine.Split('\n');
        for (int i = 0; i < Math.Max(k.Length, e.Length); i++)
        {
            string kl = i < k.Length ? k[i] : "<end>", el = i < e.Length ? e[i] : "<end>";
            if (kl != el)
                return $"report line {i + 1}: kernel '{kl}' vs engine '{el}'\n--- kernel\n{kernel}\n--- engine\n{engine}";
        }
        return "equal";
    }
}
