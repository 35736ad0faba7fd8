using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Running;

namespace FastPT.Scenarios.Tests.Goldens;

/// <summary>One golden script run on a backend and held to its recorded report, error line and exit code.</summary>
internal static class GoldenCase
{
    public static TheoryData<string> Names() => new(
        Directory.GetFiles(TestPaths.Scenarios, "*.script").Select(p => Path.GetFileNameWithoutExtension(p)!)
            .Order(StringComparer.Ordinal));

    public static void AssertReproduces(string name, Func<IScenarioBackend> backend)
    {
        var text = File.ReadAllText(Path.Combine(TestPaths.Scenarios, name + ".script"));
        var expected = File.ReadAllText(Path.Combine(TestPaths.Scenarios, name + ".expected"));
        var errorPath = Path.Combine(TestPaths.Scenarios, name + ".error");
        var report = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };

        int code = ScriptRunner.Run(text, backend, report, error);

        Assert.Equal(expected, report.ToString());
        if (File.Exists(errorPath))
        {
            Assert.Equal(2, code);
            Assert.Equal(File.ReadAllText(errorPath), error.ToString());
        }
        else
        {
            Assert.True(code == 0, $"exit {code}: {error}");
        }
    }
}
