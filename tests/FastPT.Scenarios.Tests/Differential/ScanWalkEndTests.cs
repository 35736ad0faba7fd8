using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Generation;
using FastPT.Scenarios.Language;
using FastPT.Scenarios.Running;
using Xunit.Abstractions;

namespace FastPT.Scenarios.Tests.Differential;

/// <summary>
/// PAGEMAP_SCAN's walk_end (where a caller resumes a scan that max or a full vec stopped),
/// engine against the live kernel, for every scan statement of generated scripts: the report
/// prints only the regions, and scripts always give the ioctl room for one region per page.
/// Here the vec also holds just 1 or 3 regions (regions and walk_end compared; the later
/// statements then meet what a stopped WP_MATCHING scan left). FASTPT_DIFF_WALKEND_SCRIPTS
/// (default 100) scripts of each generator profile.
/// </summary>
[Collection("Kernel")]
public sealed class ScanWalkEndTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Every_scan_stops_where_the_kernels_stops(int vecLength)
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap and userfaultfd (the kernel oracle)");
        int count = TestPaths.EnvInt("FASTPT_DIFF_WALKEND_SCRIPTS", 100);
        int scans = 0, stopped = 0;
        var mismatches = new List<string>();
        foreach (var (name, options) in new[] { ("scan", GeneratorOptions.Scan), ("explore", GeneratorOptions.Explore), ("default", new GeneratorOptions()) })
        {
            for (int s = 1; s <= count && mismatches.Count < 3; s++)
            {
                var text = ScriptGenerator.Generate(s, options);
                var script = Script.Parse(text);
                if (script.Error is not null)
                    continue;
                var kernel = WalkEnds(script, () => new KernelBackend(), vecLength);
                var engine = WalkEnds(script, () => new EngineBackend(), vecLength);
                Assert.Equal(kernel.Count, engine.Count);
                for (int i = 0; i < kernel.Count; i++, scans++)
                {
                    stopped += kernel[i].WalkEnd != kernel[i].RangeEnd ? 1 : 0;
                    if (kernel[i] != engine[i])
                    {
                        mismatches.Add($"{name} seed {s}, scan {i + 1}: kernel {kernel[i]}, engine {engine[i]}\n{text}");
                        break;
                    }
                }
            }
        }
        output.WriteLine($"{scans} scans compared, {stopped} stopped before the end of their range");
        Assert.True(mismatches.Count == 0, string.Join("\n\n", mismatches));
        Assert.True(stopped > 0, "no scan stopped early: the generators no longer exercise walk_end");
    }

    private readonly record struct Stop(string Region, long RangeEnd, long WalkEnd, string Runs);

    /// <summary>Each scan's range end, walk_end and regions.</summary>
    private static List<Stop> WalkEnds(Script script, Func<IScenarioBackend> create, int vecLength) =>
        Undisturbed.Run(create, backend =>
        {
            var log = new List<Stop>();
            Assert.Equal(0, ScriptRunner.Execute(script, new Recording(backend, log, vecLength), TextWriter.Null, TextWriter.Null));
            return log;
        });

    /// <summary>Passes every call through, scans with a vec of vecLength regions, and notes each scan's range end and walk_end.</summary>
    private sealed class Recording(IScenarioBackend inner, List<Stop> log, int vecLength) : IScenarioBackend
    {
        public void Open(UffdFeatures features) => inner.Open(features);
        public void CreateRegion(RegionSpec region) => inner.CreateRegion(region);
        public AccessOutcome Access(string region, long page, bool write) => inner.Access(region, page, write);
        public void Zap(string region, long first, long count) => inner.Zap(region, first, count);
        public void WriteProtect(string region, long first, long count, bool protect) => inner.WriteProtect(region, first, count, protect);
        public void Protect(string region, long first, long count, Protection protection) => inner.Protect(region, first, count, protection);
        public void Unregister(string region) => inner.Unregister(region);
        public void Pagemap(string region, long first, long count, Span<ulong> entries) => inner.Pagemap(region, first, count, entries);

        public ScanOutcome Scan(string region, long first, long count, ScanRequest request)
        {
            var outcome = inner.Scan(region, first, count, request with { VecLength = vecLength });
            log.Add(new Stop(region, first + count, outcome.WalkEnd, string.Join(" ", outcome.Runs.Select(r => $"{r.First}-{r.Last}:{(int)r.Categories}"))));
            return outcome;
        }

        public void Dispose() { } // the caller owns inner
    }
}
