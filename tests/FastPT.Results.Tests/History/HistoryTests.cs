using FastPT.Results.Compare;
using FastPT.Results.History;
using FastPT.Results.Model;
using FastPT.Results.Tests.Compare;

namespace FastPT.Results.Tests.History;

/// <summary>The per-machine history file and the change points found in it.</summary>
public sealed class HistoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-history-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ResultSet At(ResultSet set, string commit, int minute) => set with
    {
        Environment = set.Environment with { Commit = commit, Dirty = false, Time = new DateTimeOffset(2026, 12, 1, 12, minute, 0, TimeSpan.Zero) },
    };

    [Fact]
    public void Runs_append_to_their_machines_file_one_line_each()
    {
        var store = new HistoryStore(_dir);
        var a = At(TestData.Load("same-build-a.json"), "aaaa", 1);
        string path = store.Append(a, "a.json");
        Assert.Equal(Path.Combine(_dir, "intel-xeon-processor-2c.jsonl"), path);
        store.Append(At(a, "bbbb", 2), "b.json");
        Assert.Equal(2, File.ReadAllLines(path).Length);
        Assert.Equal(["aaaa", "bbbb"], store.Read("intel-xeon-processor-2c").Select(e => e.Environment.Commit));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void A_run_without_commit_a_dirty_run_or_a_repeat_is_refused_and_the_file_is_unchanged()
    {
        var store = new HistoryStore(_dir);
        var a = At(TestData.Load("same-build-a.json"), "aaaa", 1);
        string path = store.Append(a, "a.json");
        string before = File.ReadAllText(path);
        Assert.Contains("--commit", Assert.Throws<ResultsFormatException>(() => store.Append(a with { Environment = a.Environment with { Commit = null } }, "x.json")).Message);
        Assert.Contains("--allow-dirty", Assert.Throws<ResultsFormatException>(() => store.Append(At(a, "cccc", 3) with { Environment = a.Environment with { Commit = "cccc", Dirty = true } }, "x.json")).Message);
        Assert.Contains("already in", Assert.Throws<ResultsFormatException>(() => store.Append(a, "a.json")).Message);
        Assert.Equal(before, File.ReadAllText(path));
    }

    [Fact]
    public void A_bad_history_line_names_its_file_and_line()
    {
        var store = new HistoryStore(_dir);
        string path = store.Append(At(TestData.Load("same-build-a.json"), "aaaa", 1), "a.json");
        File.AppendAllText(path, "{\"format\": \"fastpt-results\", \"version\": 7}\n");
        var e = Assert.Throws<ResultsFormatException>(() => store.Read("intel-xeon-processor-2c"));
        Assert.StartsWith($"{path}:2: ", e.Message);
    }

    [Fact]
    public void A_step_in_a_figure_is_one_change_point_naming_the_commits_around_it()
    {
        // Six runs at the recorded speed, then six at 1.5x: each run is the recorded run's samples, its own commit.
        var a = TestData.Load("same-build-a.json");
        var history = new List<ResultSet>();
        for (int i = 0; i < 12; i++)
            history.Add(At(i < 6 ? a : TestData.Scaled(a, CompareTests.PlantedV1Op, 1.5), $"c{i:D2}", i));
        var points = ChangePoints.Find(history);
        var moved = points.Where(p => p.Op == CompareTests.PlantedV1Op).ToList();
        Assert.NotEmpty(moved);
        Assert.All(moved, p => Assert.Equal((5, 6, "c05", "c06", Verdict.Slower), (p.Before, p.After, p.BeforeCommit, p.AfterCommit, p.Verdict)));
        Assert.Contains(moved, p => p.Figure == Comparer.TimeFigure);
        Assert.All(points, p => Assert.Equal(CompareTests.PlantedV1Op, p.Op));
    }

    [Fact]
    public void Runs_of_one_commit_share_a_segment_and_a_step_between_them_is_no_change_point()
    {
        // Three runs of one commit, the last two at half the speed (the machine drifted, as this
        // VM does between minutes): no commit came between them, so nothing moved.
        var a = TestData.Load("same-build-a.json");
        var slow = TestData.Scaled(a, CompareTests.PlantedV1Op, 1.5);
        var halfSpeed = TestData.Scaled(a, CompareTests.PlantedV1Op, 2.0);
        Assert.Empty(ChangePoints.Find([At(a, "c00", 0), At(halfSpeed, "c00", 1), At(halfSpeed, "c00", 2)]));

        // Three commits run three times each, the step with the second: found at the commit
        // boundary, naming both.
        var history = new List<ResultSet>();
        for (int i = 0; i < 9; i++)
            history.Add(At(i < 3 ? a : slow, $"c{i / 3:D2}", i));
        var moved = ChangePoints.Find(history).Where(p => p.Op == CompareTests.PlantedV1Op).ToList();
        Assert.NotEmpty(moved);
        Assert.All(moved, p => Assert.Equal((2, 3, "c00", "c01", Verdict.Slower), (p.Before, p.After, p.BeforeCommit, p.AfterCommit, p.Verdict)));
    }

    [Fact]
    public void A_flat_history_has_no_change_point()
    {
        var a = TestData.Load("same-build-a.json");
        var b = TestData.Load("same-build-b.json");
        var history = Enumerable.Range(0, 10).Select(i => At(i % 2 == 0 ? a : b, $"c{i:D2}", i)).ToList();
        Assert.Empty(ChangePoints.Find(history));
    }
}
