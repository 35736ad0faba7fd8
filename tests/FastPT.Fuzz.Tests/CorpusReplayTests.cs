using FastPT.Fuzz;
using Xunit;

namespace FastPT.Fuzz.Tests;

/// <summary>
/// Replays every committed fuzz input — seeds, minimized corpora and the regression inputs of past
/// findings — through the same target functions AFL++ drives, so CI holds every parser to its
/// contract (parse, or refuse with its documented error) without running a fuzzer.
/// </summary>
public sealed class CorpusReplayTests
{
    /// <summary>Far above any input's time here (milliseconds); the nettrace metadata hang took 30 s+.</summary>
    private static readonly TimeSpan PerInput = TimeSpan.FromSeconds(10);

    private static readonly string[] Folders = ["seeds", "corpus", "regressions"];

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (FuzzTarget t in FuzzTargets.All)
        {
            foreach (string folder in Folders)
            {
                string dir = Path.Combine(FuzzPaths.Root, "fuzz", folder, t.Name);
                if (!Directory.Exists(dir))
                    continue;
                foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                    data.Add(t.Name, Path.GetRelativePath(FuzzPaths.Root, file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task Input_keeps_the_contract(string target, string file)
    {
        FuzzTarget t = FuzzTargets.Find(target)!;
        byte[] input = File.ReadAllBytes(Path.Combine(FuzzPaths.Root, file));
        // A thread of its own, so an input that loops fails this test instead of stalling the run.
        var run = Task.Factory.StartNew(() => t.Run(input), TaskCreationOptions.LongRunning);
        Assert.True(await Task.WhenAny(run, Task.Delay(PerInput)) == run,
            $"{file}: {target} took longer than {PerInput.TotalSeconds} s (a hang is a finding)");
        await run; // a contract violation or any other exception fails the test with its message
    }

    [Fact]
    public void Every_target_has_a_committed_corpus()
    {
        foreach (FuzzTarget t in FuzzTargets.All)
        {
            string dir = Path.Combine(FuzzPaths.Root, "fuzz", "corpus", t.Name);
            Assert.True(Directory.Exists(dir) && Directory.EnumerateFiles(dir).Any(),
                $"fuzz/corpus/{t.Name} is empty: run fuzz/run.sh {t.Name}, then fuzz/cmin.sh {t.Name} fuzz/out/{t.Name}/findings/default/queue");
        }
    }
}

internal static class FuzzPaths
{
    /// <summary>The repository root (the directory holding FastPT.sln), found from the test binary.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FastPT.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"FastPT.sln not found above {AppContext.BaseDirectory}");
    }
}
