namespace FastPT.Scenarios.Tests;

internal static class TestPaths
{
    /// <summary>The repository root (the directory holding FastPT.sln), found from the test binary.</summary>
    public static string Root { get; } = FindRoot();

    public static string Scenarios => Path.Combine(Root, "tests", "scenarios");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FastPT.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"FastPT.sln not found above {AppContext.BaseDirectory}");
    }

    public static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var v) ? v : fallback;
}

/// <summary>Tests that drive real memory run one at a time (they share khugepaged, vmstat and 2 cores).</summary>
[CollectionDefinition("Kernel", DisableParallelization = true)]
public sealed class KernelCollection;
