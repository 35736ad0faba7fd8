using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Generation;
using FastPT.Scenarios.Language;
using FastPT.Scenarios.Running;
using FastPT.Uffd;
using Xunit.Abstractions;

namespace FastPT.Scenarios.Tests.Differential;

/// <summary>
/// The whole 64-bit pagemap word, engine against the live kernel (read with CAP_SYS_ADMIN), at
/// the end of each script: the report shows only four of its bits. Every flag bit (55-63) must
/// agree; a swap-format word (a marker) must agree in full, swap type and offset included. A
/// present page's PFN is physical on the kernel and a model frame on the engine, so it is not
/// compared here (MemoryModelTests pins the engine's frames). FASTPT_DIFF_WORD_SCRIPTS
/// (default 100) scripts of each generator profile, and every golden.
/// </summary>
[Collection("Kernel")]
public sealed class PagemapWordTests(ITestOutputHelper output)
{
    private const ulong FlagBits = 0xFF80_0000_0000_0000;

    [SkippableFact]
    public void Every_flag_and_every_swap_word_agrees_with_the_kernel_after_generated_scripts()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap and userfaultfd (the kernel oracle)");
        var mismatches = new List<string>();
        int count = TestPaths.EnvInt("FASTPT_DIFF_WORD_SCRIPTS", 100);
        foreach (var (name, options) in new[] { ("default", new GeneratorOptions()), ("explore", GeneratorOptions.Explore), ("scan", GeneratorOptions.Scan) })
            for (int s = 1; s <= count && mismatches.Count < 3; s++)
                Compare($"{name} seed {s}", ScriptGenerator.Generate(s, options), mismatches);
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.True(mismatches.Count == 0, string.Join("\n\n", mismatches));
    }

    [SkippableTheory]
    [MemberData(nameof(Goldens))]
    public void Every_flag_and_every_swap_word_agrees_with_the_kernel_after_a_golden(string name)
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap and userfaultfd (the kernel oracle)");
        var mismatches = new List<string>();
        Compare(name, File.ReadAllText(Path.Combine(TestPaths.Scenarios, name + ".script")), mismatches);
        Assert.True(mismatches.Count == 0, string.Join("\n\n", mismatches));
    }

    public static TheoryData<string> Goldens() => FastPT.Scenarios.Tests.Goldens.GoldenCase.Names();

    private static void Compare(string what, string text, List<string> mismatches)
    {
        var script = Script.Parse(text);
        if (script.Error is not null)
            return; // a script that stops early: its report is the golden's business
        var kernel = FinalWords(script, () => new KernelBackend());
        var engine = FinalWords(script, () => new EngineBackend());
        foreach (var (region, k) in kernel)
        {
            var e = engine[region];
            for (int i = 0; i < k.Length; i++)
            {
                if (Comparable(k[i]) != Comparable(e[i]))
                {
                    mismatches.Add($"{what}: {region}:{i} kernel 0x{k[i]:X16} engine 0x{e[i]:X16}\n{text}");
                    return;
                }
            }
        }
    }

    /// <summary>The word without a present page's PFN.</summary>
    private static ulong Comparable(ulong word) =>
        (word & PagemapBits.Present) != 0 ? word & FlagBits : word;

    private static Dictionary<string, ulong[]> FinalWords(Script script, Func<IScenarioBackend> create) =>
        Undisturbed.Run(create, backend =>
        {
            var sink = new StringWriter();
            int code = ScriptRunner.Execute(script, backend, sink, sink);
            Assert.True(code == 0, $"exit {code}: {sink}");
            var words = new Dictionary<string, ulong[]>();
            foreach (var r in script.Statements.OfType<RegionStatement>())
            {
                var entries = new ulong[r.Pages];
                backend.Pagemap(r.Name, 0, r.Pages, entries);
                words[r.Name] = entries;
            }
            return words;
        });
}
