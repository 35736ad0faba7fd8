using FastPT.Results.Import;
using FastPT.Results.Model;

namespace FastPT.Results.Tests.Format;

/// <summary>Results v1 read and written; every importer; bad files fail with what, where and how to fix.</summary>
public sealed class ResultsFormatTests
{
    [Fact]
    public void A_recorded_bench_run_reads_back_with_every_sample_and_paired_ratio()
    {
        var set = TestData.Load("same-build-a.json");
        Assert.Equal("fastpt bench", set.Source);
        Assert.Equal(SamplesKinds.Repetitions, set.SamplesKind);
        Assert.NotNull(set.Environment.Commit);
        Assert.NotNull(set.Environment.LoadBefore);
        Assert.NotNull(set.Environment.LoadAfter);
        var hot = set.Find("protect-present-hot")!;
        Assert.True(hot.Samples.Count >= 5);
        Assert.Equal(hot.Samples.Count, hot.Ratios!["bare"].Count);
        for (int i = 0; i < hot.Samples.Count; i++)
            Assert.Equal(hot.Samples[i] / hot.Baselines!["bare"][i], hot.Ratios["bare"][i], 12);
        // The DRAM rows borrow the hot run's kernel figure: not the same repetitions, so no paired kernel ratio.
        Assert.False(set.Find("protect-present-dram")!.Ratios!.ContainsKey("kernel"));
    }

    [Fact]
    public void Writing_and_reading_again_gives_the_same_set()
    {
        var set = TestData.Load("same-build-a.json");
        var again = ResultsJson.Deserialize(ResultsJson.SerializeLine(set), "line");
        Assert.Equal(ResultsJson.Serialize(set), ResultsJson.Serialize(again));
    }

    [Fact]
    public void BenchmarkDotNet_reports_import_one_op_per_case_with_the_result_iterations()
    {
        var set = TestData.Load("bdn/FastPT.Benchmarks.Suites.TranslateRandom-report-full-compressed.json");
        Assert.Equal(SamplesKinds.Iterations, set.SamplesKind);
        Assert.StartsWith("BenchmarkDotNet 0.15", set.Source);
        var op = Assert.Single(set.Results);
        Assert.Equal("TranslateRandom.Translate", op.Op);
        Assert.Equal("ns/op", op.Unit);
        Assert.Equal(9, op.Samples.Count);
        Assert.InRange(op.Samples.Min(), 30, 60);
        Assert.Equal("AMD EPYC", set.Environment.CpuModel);

        var folder = ResultsReader.Load(TestData.Path("bdn"));
        Assert.Contains(folder.Results, r => r.Op == "TranslateRandom.Translate");
        Assert.Contains(folder.Results, r => r.Op.StartsWith("MarkersEmpty.", StringComparison.Ordinal));
    }

    [Fact]
    public void Old_bench_json_imports_as_one_run_median_per_operation()
    {
        var set = TestData.Load("pre-v1-bench.json");
        Assert.Equal(SamplesKinds.RunMedians, set.SamplesKind);
        var hot = set.Find("protect-present-hot")!;
        Assert.Equal([0.1300811767578125], hot.Samples);
        Assert.Equal(0.1300811767578125 / 0.084686279296875, hot.Ratios!["bare"][0], 12);
        Assert.Equal("ns/translation", set.Find("translate-random")!.Unit);
    }

    [Fact]
    public void Legacy_runs_of_one_commit_merge_into_one_entry()
    {
        var runs = new[] { "legacy-0aacfc14-run1.json", "legacy-0aacfc14-run2.json" }.Select(f => (TestData.Load(f), f)).ToList();
        var merged = LegacyBenchImporter.MergeRuns(runs);
        Assert.StartsWith("0aacfc14", merged.Environment.Commit);
        Assert.Equal(runs[0].Item1.Environment.LoadBefore, merged.Environment.LoadBefore);
        Assert.Equal(runs[1].Item1.Environment.LoadAfter, merged.Environment.LoadAfter);
        var hot = merged.Find("protect-present-hot")!;
        Assert.Equal([runs[0].Item1.Find("protect-present-hot")!.Samples[0], runs[1].Item1.Find("protect-present-hot")!.Samples[0]], hot.Samples);
        Assert.Equal(2, hot.Ratios!["bare"].Count);

        var mixed = new[] { runs[0], (TestData.Load("legacy-5bf91548-run1.json"), "legacy-5bf91548-run1.json") };
        var e = Assert.Throws<ResultsFormatException>(() => LegacyBenchImporter.MergeRuns(mixed));
        Assert.Contains("merge runs of one commit only", e.Message);
    }

    [Theory]
    [InlineData("{ \"format\": \"fastpt-results\", \"version\": 1,", "not valid JSON at line 1")]
    [InlineData("[1, 2]", "the top level is an array")]
    [InlineData("{\"hello\": 1}", "not a results file")]
    [InlineData("{\"format\": \"other\"}", "\"format\" is \"other\"")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 2, \"source\": \"x\", \"samples_kind\": \"repetitions\", \"environment\": {}, \"results\": []}", "version 2 is newer than this fastpt reads")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 1, \"source\": \"x\", \"samples_kind\": \"repetitions\", \"environment\": {}, \"results\": []}", "\"results\" is empty")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 1, \"source\": \"x\", \"samples_kind\": \"guesses\", \"environment\": {}, \"results\": [{\"op\": \"a\", \"unit\": \"ns\", \"samples\": [1]}]}", "\"samples_kind\" is \"guesses\"")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 1, \"source\": \"x\", \"samples_kind\": \"repetitions\", \"environment\": {}, \"results\": [{\"op\": \"a\", \"unit\": \"ns\", \"samples\": []}]}", "results[0] (\"a\").samples is empty")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 1, \"source\": \"x\", \"samples_kind\": \"repetitions\", \"environment\": {}, \"results\": [{\"op\": \"a\", \"unit\": \"ns\", \"samples\": [1, -2]}]}", "samples[1] is -2")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 1, \"source\": \"x\", \"samples_kind\": \"repetitions\", \"environment\": {}, \"results\": [{\"op\": \"a\", \"unit\": \"ns\", \"samples\": [1, 2], \"ratios\": {\"bare\": [1]}}]}", "ratios.bare has 1 values for 2 samples")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 1, \"source\": \"x\", \"samples_kind\": \"repetitions\", \"environment\": {}, \"results\": [{\"op\": \"a\", \"unit\": \"ns\", \"samples\": [1]}, {\"op\": \"a\", \"unit\": \"ns\", \"samples\": [1]}]}", "appears twice")]
    [InlineData("{\"format\": \"fastpt-results\", \"version\": 1, \"samples_kind\": \"repetitions\", \"environment\": {}, \"results\": []}", "not a valid results v1 document")]
    public void A_bad_file_fails_with_its_name_and_what_is_wrong(string json, string expected)
    {
        var e = Assert.Throws<ResultsFormatException>(() => ResultsReader.Parse(json, "bad.json"));
        Assert.StartsWith("bad.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_missing_file_says_so()
    {
        var e = Assert.Throws<ResultsFormatException>(() => ResultsReader.Load("/nonexistent/run.json"));
        Assert.Equal("/nonexistent/run.json: no such file or folder", e.Message);
    }

    [Fact]
    public void The_history_key_is_the_cpu_model_and_core_count()
    {
        Assert.Equal("intel-xeon-processor-2c", RunEnvironment.HistoryKey("Intel(R) Xeon(R) Processor", 2));
        Assert.Equal("amd-epyc-9654-96-core-processor-4c", RunEnvironment.HistoryKey("AMD EPYC 9654 96-Core Processor", 4));
        Assert.Equal("unknown-cpu", RunEnvironment.HistoryKey(null, null));
    }
}
