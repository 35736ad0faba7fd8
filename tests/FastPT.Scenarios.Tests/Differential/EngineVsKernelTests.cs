using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Generation;
using FastPT.Scenarios.Language;
using FastPT.Scenarios.Running;
using Xunit.Abstractions;

namespace FastPT.Scenarios.Tests.Differential;

/// <summary>
/// The randomized differential check: generated scripts run on the engine and on the live
/// kernel must print identical reports. Two profiles: the default generator
/// (FASTPT_DIFF_SEED, default 1; FASTPT_DIFF_SCRIPTS, default 500) and the exploring one,
/// <see cref="GeneratorOptions.Explore"/> (FASTPT_DIFF_EXPLORE_SEED, default 1;
/// FASTPT_DIFF_EXPLORE_SCRIPTS, default 150; FASTPT_DIFF_EXPLORE_PROFILE picks another
/// <see cref="GeneratorOptions.Profile"/>). Raise the counts locally. A mismatch names its
/// seed and comes with a minimised script (FASTPT_DIFF_MINIMISE_SECONDS, default 20);
/// FASTPT_DIFF_OUT=DIR also writes every mismatching script there, and
/// FASTPT_DIFF_MAX_MISMATCHES (default 3) says when to stop.
/// </summary>
[Collection("Kernel")]
public sealed class EngineVsKernelTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Engine_and_kernel_print_identical_reports() =>
        Check("default", new GeneratorOptions(), TestPaths.EnvInt("FASTPT_DIFF_SEED", 1), TestPaths.EnvInt("FASTPT_DIFF_SCRIPTS", 500));

    [SkippableFact]
    public void Engine_and_kernel_print_identical_reports_on_explored_scripts()
    {
        var profile = Environment.GetEnvironmentVariable("FASTPT_DIFF_EXPLORE_PROFILE") ?? "explore";
        Check(profile, GeneratorOptions.Profile(profile), TestPaths.EnvInt("FASTPT_DIFF_EXPLORE_SEED", 1), TestPaths.EnvInt("FASTPT_DIFF_EXPLORE_SCRIPTS", 150));
    }

    /// <summary>The scan mix: what PAGEMAP_SCAN on the walker ships is what the kernel verifies (FASTPT_DIFF_SCAN_SEED, FASTPT_DIFF_SCAN_SCRIPTS, default 300).</summary>
    [SkippableFact]
    public void Engine_and_kernel_print_identical_reports_on_the_scan_mix() =>
        Check("scan", GeneratorOptions.Scan, TestPaths.EnvInt("FASTPT_DIFF_SCAN_SEED", 1), TestPaths.EnvInt("FASTPT_DIFF_SCAN_SCRIPTS", 300));

    [Fact]
    public void Explored_scripts_are_valid_and_use_the_targeted_patterns()
    {
        var all = new System.Text.StringBuilder();
        for (int s = 1; s <= 300; s++)
        {
            var text = ScriptGenerator.Generate(s, GeneratorOptions.Explore);
            Assert.Equal(text, ScriptGenerator.Generate(s, GeneratorOptions.Explore));
            var script = Script.Parse(text);
            Assert.True(script.Error is null, $"seed {s}: {script.Error}\n{text}");
            all.Append(text);
        }
        var text300 = all.ToString();
        Assert.Matches(@"region r\d anon 26\d{4} ", text300); // over 1 GiB
        Assert.Matches(@"zap r\d:\d*[05]12\+512\n", text300); // whole 2 MiB extents (512, 1024, 1536, ...)
        Assert.Matches(@"scan [^\n]* wp max=", text300);
        Assert.Matches(@"protect (r\d:[0-9+]+) r\n(?:[^\n]*\n){0,2}protect \1 rw\n", text300); // ping-pong
        Assert.Matches(@"unregister (r\d)\n(?:write|read|zap|protect|pagemap|scan) \1:", text300);
        Assert.Contains(" thp", text300);
        Assert.Contains(" async", text300);
    }

    private void Check(string profile, GeneratorOptions options, int seed, int count)
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap and userfaultfd (the kernel oracle)");
        int maxMismatches = TestPaths.EnvInt("FASTPT_DIFF_MAX_MISMATCHES", 3);
        var outDir = Environment.GetEnvironmentVariable("FASTPT_DIFF_OUT");
        var minimiseFor = TimeSpan.FromSeconds(TestPaths.EnvInt("FASTPT_DIFF_MINIMISE_SECONDS", 20));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var mismatches = new List<string>();
        int run = 0;
        for (int s = seed; s < seed + count && mismatches.Count < maxMismatches; s++, run++)
        {
            var text = ScriptGenerator.Generate(s, options);
            var kernel = Run(text, () => new KernelBackend());
            var engine = Run(text, () => new EngineBackend());
            if (kernel == engine)
                continue;
            var minimal = minimiseFor > TimeSpan.Zero ? ScriptMinimiser.Minimise(text, Disagree, minimiseFor) : text;
            if (outDir is not null)
            {
                Directory.CreateDirectory(outDir);
                File.WriteAllText(Path.Combine(outDir, $"{profile}-{s}.script"), text);
                File.WriteAllText(Path.Combine(outDir, $"{profile}-{s}.min.script"), minimal);
            }
            mismatches.Add($"{profile} seed {s}; minimised:\n{minimal}\n{FirstDifference(Run(minimal, () => new KernelBackend()), Run(minimal, () => new EngineBackend()))}");
        }
        output.WriteLine($"{profile} seeds {seed}..{seed + run - 1}: {run} scripts, {mismatches.Count} mismatches, {watch.ElapsedMilliseconds} ms");
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.True(mismatches.Count == 0, string.Join("\n\n", mismatches));
    }

    /// <summary>The minimiser's predicate: a valid script whose two reports differ.</summary>
    private static bool Disagree(string text) =>
        Script.Parse(text).Error is null && Run(text, () => new KernelBackend()) != Run(text, () => new EngineBackend());

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
        return "equal (the mismatch did not reproduce)";
    }
}
