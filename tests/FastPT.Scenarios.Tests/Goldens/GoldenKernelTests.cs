using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Running;

namespace FastPT.Scenarios.Tests.Goldens;

/// <summary>
/// Every tests/scenarios/NAME.script run on the live kernel must print NAME.expected (and, for
/// error scripts, exit 2 with NAME.error on stderr), so the committed goldens stay honest.
/// </summary>
[Collection("Kernel")]
public sealed class GoldenKernelTests
{
    /// <summary>The report printed under "On Linux 6.18 this prints:" in docs/spec scenario-scripts.md, verbatim.</summary>
    private const string SpecExampleReport = """
        pagemap f
          f 0-7 -SW-
        fault write f:2 wp
        pagemap f
          f 0-0 -SW-
          f 1-1 P-WF
          f 2-2 P--F
          f 3-7 -SW-
        pagemap f
          f 0-0 ----
          f 1-2 P--F
          f 3-7 ----

        """;

    private static List<string> ScriptNames() =>
        Directory.GetFiles(TestPaths.Scenarios, "*.script").Select(p => Path.GetFileNameWithoutExtension(p)!)
            .Order(StringComparer.Ordinal).ToList();

    public static TheoryData<string> Names() => new(ScriptNames());

    [Fact]
    public void There_are_enough_goldens_and_each_has_its_expected_report()
    {
        var names = ScriptNames();
        Assert.True(names.Count >= 18, $"only {names.Count} golden scripts");
        foreach (var name in names)
            Assert.True(File.Exists(Path.Combine(TestPaths.Scenarios, name + ".expected")), $"{name}.expected is missing");
        Assert.Contains(names, n => n.StartsWith("error-", StringComparison.Ordinal));
    }

    [Fact]
    public void Spec_example_golden_equals_the_spec_text()
    {
        var expected = File.ReadAllText(Path.Combine(TestPaths.Scenarios, "spec-example.expected"));
        Assert.Equal(SpecExampleReport.Replace("\r\n", "\n"), expected);
    }

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void Kernel_reproduces_golden(string name)
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap");
        // Tracked protections are checked against /proc/self/maps on every access here.
        GoldenCase.AssertReproduces(name, () => new KernelBackend { VerifyProtectionsWithMaps = true });
    }
}
