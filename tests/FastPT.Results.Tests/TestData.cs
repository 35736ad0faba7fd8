using FastPT.Results.Import;
using FastPT.Results.Model;

namespace FastPT.Results.Tests;

/// <summary>
/// The recorded sample files in Data/ (real runs on the project's machine, not timings taken
/// by the tests): see Data/README.md for where each came from.
/// </summary>
internal static class TestData
{
    public static string Dir { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "Data");

    public static string Path(string name) => System.IO.Path.Combine(Dir, name);

    public static ResultSet Load(string name) => ResultsReader.Load(Path(name));

    /// <summary>A copy of <paramref name="set"/> with one operation's samples and paired ratios multiplied by <paramref name="factor"/>.</summary>
    public static ResultSet Scaled(ResultSet set, string op, double factor) => set with
    {
        Results = [.. set.Results.Select(r => r.Op != op ? r : r with
        {
            Samples = [.. r.Samples.Select(s => s * factor)],
            Ratios = r.Ratios?.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)[.. kv.Value.Select(v => v * factor)]),
        })],
    };

    /// <summary>The repository root (the folder holding FastPT.sln), found from the test binary.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "FastPT.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"FastPT.sln not found above {AppContext.BaseDirectory}");
    }
}
