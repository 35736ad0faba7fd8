using System.Text.RegularExpressions;
using FastPT.Results.Compare;
using FastPT.Results.Export;
using FastPT.Results.Model;
using FastPT.Results.Tests.Compare;
using FastPT.Results.Report;

namespace FastPT.Results.Tests.Report;

/// <summary>The HTML report's content (the browser test checks it renders) and the exporters.</summary>
public sealed partial class ReportTests
{
    internal static (IReadOnlyList<ResultSet> History, ResultSet Latest) Sample()
    {
        var a = TestData.Load("same-build-a.json");
        var legacy = Enumerable.Range(1, 2).Select(i => TestData.Load($"legacy-0aacfc14-run{i}.json")).ToList();
        var merged = FastPT.Results.Import.LegacyBenchImporter.MergeRuns([.. legacy.Select((s, i) => (s, $"run{i}"))]);
        var old = merged with { Environment = merged.Environment with { CpuModel = a.Environment.CpuModel, Cores = a.Environment.Cores } };
        return ([old, a], TestData.Scaled(TestData.Load("same-build-b.json"), CompareTests.PlantedV1Op, 3));
    }

    [Fact]
    public void The_report_has_a_chart_per_figure_with_a_point_per_run_and_fetches_nothing()
    {
        var (history, latest) = Sample();
        string html = HtmlReport.Render("intel-xeon-processor-2c", history, latest, new ComparisonOptions());
        Assert.DoesNotMatch(ExternalReference(), html);
        foreach (var op in latest.Results)
            Assert.Contains($"<section class=\"op\" data-op=\"{op.Op}\">", html);
        var hot = Regex.Match(html, "<svg class=\"chart\"[^>]*data-op=\"protect-present-hot\" data-figure=\"time\" data-points=\"(\\d+)\"");
        Assert.Equal("3", hot.Groups[1].Value);
        Assert.Contains("data-figure=\"vs bare\"", html);
        Assert.Contains("data-figure=\"vs kernel\"", html);
        Assert.Contains($"regression: {CompareTests.PlantedV1Op}", html);
        Assert.Contains("<script>", html);
        Assert.Contains("Load average at each run", html);
    }

    [GeneratedRegex("(src|href)\\s*=\\s*\"(https?:)?//|url\\(\\s*['\"]?https?:|@import|<link ", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();

    [Fact]
    public void Github_action_benchmark_export_lists_each_time_and_paired_ratio()
    {
        var a = TestData.Load("same-build-a.json");
        using var doc = System.Text.Json.JsonDocument.Parse(Exporters.GithubActionBenchmark(a));
        var names = doc.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Contains("protect-present-hot", names);
        Assert.Contains("protect-present-hot (vs bare)", names);
        var hot = doc.RootElement.EnumerateArray().First(e => e.GetProperty("name").GetString() == "protect-present-hot");
        Assert.Equal(FastPT.Results.Compare.Comparer.Median(a.Find("protect-present-hot")!.Samples), hot.GetProperty("value").GetDouble(), 12);
        Assert.Equal("ns/page", hot.GetProperty("unit").GetString());
    }

    [Fact]
    public void Bencher_export_is_bmf_with_latency_and_bounds()
    {
        var a = TestData.Load("same-build-a.json");
        using var doc = System.Text.Json.JsonDocument.Parse(Exporters.BencherMetricFormat(a));
        var latency = doc.RootElement.GetProperty("translate-random").GetProperty("latency");
        Assert.True(latency.GetProperty("lower_value").GetDouble() <= latency.GetProperty("value").GetDouble());
        Assert.True(latency.GetProperty("value").GetDouble() <= latency.GetProperty("upper_value").GetDouble());
        Assert.True(doc.RootElement.GetProperty("protect-present-hot (vs bare)").TryGetProperty("ratio", out _));
    }
}
