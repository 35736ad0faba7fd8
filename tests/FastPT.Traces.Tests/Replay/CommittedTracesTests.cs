using System.Text.RegularExpressions;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Replay;
using FastPT.Traces.Tests.Nettrace;

namespace FastPT.Traces.Tests.Replay;

/// <summary>Every trace in traces/ replays to the digest and counts its README row records.</summary>
[Collection(EventPipeCollection.Name)]
public partial class CommittedTracesTests
{
    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "FastPT.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException("FastPT.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^\| `(?<file>[\w.-]+\.nettrace)` \| `[^`]+` \| \d+ KiB \| (?<ops>\d+) \| [\d / ]+ \| (?<spaces>\d+) \| (?<pages>\d+) \| (?<tables>\d+) \| `(?<digest>[0-9a-f]{16})` \|$", RegexOptions.Multiline)]
    private static partial Regex Row();

    public static TheoryData<string, long, int, long, long, string> Rows()
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "traces", "README.md"));
        var data = new TheoryData<string, long, int, long, long, string>();
        foreach (Match m in Row().Matches(readme))
        {
            data.Add(m.Groups["file"].Value, long.Parse(m.Groups["ops"].Value), int.Parse(m.Groups["spaces"].Value),
                long.Parse(m.Groups["pages"].Value), long.Parse(m.Groups["tables"].Value), m.Groups["digest"].Value);
        }
        return data;
    }

    [Fact]
    public void The_README_lists_every_trace_and_at_least_three()
    {
        string dir = Path.Combine(RepoRoot(), "traces");
        var listed = Rows().Select(r => (string)r[0]).Order().ToList();
        var present = Directory.GetFiles(dir, "*.nettrace").Select(p => Path.GetFileName(p)).Order().ToList();
        Assert.Equal(present, listed);
        Assert.True(listed.Count >= 3);
        foreach (string f in present)
            Assert.True(new FileInfo(Path.Combine(dir, f)).Length < 10 << 20, $"{f} is over 10 MB");
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_committed_trace_replays_to_its_recorded_digest(string file, long ops, int spaces, long pages, long tables, string digest)
    {
        var (r, s) = TraceReplay.Run(Path.Combine(RepoRoot(), "traces", file), "engine", 0);
        Assert.Equal((ops, spaces, pages, tables, digest), (r.Operations, r.Spaces, r.PagesTouched, r.TablesInUse ?? -1, r.DigestHex));
        Assert.Equal(0, r.Segvs);
        Assert.NotNull(s.Info);
        Assert.Equal(0, s.Info!.LostEvents);
    }

    [SkippableTheory]
    [MemberData(nameof(Rows))]
    public void The_kernel_replaying_a_committed_trace_ends_in_the_engines_pagemap_state(string file, long ops, int spaces, long pages, long tables, string digest)
    {
        ReplayTests.SkipWithoutKernel("kernel");
        var (operations, _) = NettraceReader.ReadAll(Path.Combine(RepoRoot(), "traces", file));
        var engine = TraceReplay.Replay(operations, "engine", TraceReplay.Factory("engine", operations));
        var kernel = TraceReplay.Replay(operations, "kernel", TraceReplay.Factory("kernel", operations));
        Assert.Equal((ops, spaces, pages, tables, digest), (engine.Operations, engine.Spaces, engine.PagesTouched, engine.TablesInUse ?? -1, engine.DigestHex));
        Assert.Equal((ops, spaces, pages), (kernel.Operations, kernel.Spaces, kernel.PagesTouched));
        Assert.Equal((0L, 0L), (kernel.Segvs, kernel.WpFaults));
        Assert.Equal(engine.PagemapDigestHex, kernel.PagemapDigestHex);
    }
}
