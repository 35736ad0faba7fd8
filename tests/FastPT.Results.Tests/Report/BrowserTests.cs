using FastPT.Results.Compare;
using FastPT.Results.Report;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace FastPT.Results.Tests.Report;

/// <summary>
/// The report in a real browser: Debian's headless Chromium opens the file; no console error,
/// every chart drawn with its points, the filter and the point details work; a screenshot is
/// written. Skips (saying why) only where /usr/bin/chromium is missing; .ci/run installs it.
/// </summary>
public sealed class BrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    [SkippableFact]
    public async Task The_report_renders_in_chromium_with_data_in_every_chart_and_no_console_error()
    {
        Skip.IfNot(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does) to run the browser test");
        var (history, latest) = ReportTests.Sample();
        string dir = Directory.CreateTempSubdirectory("fastpt-report-").FullName;
        string html = Path.Combine(dir, "report.html");
        File.WriteAllText(html, HtmlReport.Render("intel-xeon-processor-2c", history, latest, new ComparisonOptions()));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(Path.Combine(dir, "profile"), new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
        });
        var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
        var errors = new List<string>();
        var requests = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type is "error" or "warning")
                errors.Add($"console {m.Type}: {m.Text}");
        };
        page.PageError += (_, e) => errors.Add($"page error: {e}");
        page.Request += (_, r) =>
        {
            if (!r.Url.StartsWith("file://", StringComparison.Ordinal) && !r.Url.StartsWith("data:", StringComparison.Ordinal))
                requests.Add(r.Url);
        };
        await page.GotoAsync(new Uri(html).AbsoluteUri);
        await page.WaitForSelectorAsync("body[data-ready='1']", new PageWaitForSelectorOptions { Timeout = 15_000 });

        Assert.Empty(errors);
        Assert.Empty(requests);
        int ops = latest.Results.Count;
        var charts = page.Locator("section.op svg.chart");
        Assert.True(await charts.CountAsync() >= ops, $"{await charts.CountAsync()} charts for {ops} operations");
        for (int i = 0; i < await charts.CountAsync(); i++)
        {
            var chart = charts.Nth(i);
            string name = $"{await chart.GetAttributeAsync("data-op")} {await chart.GetAttributeAsync("data-figure")}";
            int declared = int.Parse(await chart.GetAttributeAsync("data-points") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(declared > 0, $"{name}: no data");
            Assert.Equal(declared, await chart.Locator("circle.pt").CountAsync());
            var box = await chart.BoundingBoxAsync();
            Assert.True(box is { Width: > 100, Height: > 100 }, $"{name}: not drawn ({box?.Width}x{box?.Height})");
        }
        Assert.Equal(history.Count + 1, await page.Locator("svg.load rect.load-before").CountAsync());

        await page.FillAsync("#filter", "scan");
        Assert.Equal(1, await page.Locator("section.op:not(.hidden)").CountAsync());
        await page.FillAsync("#filter", "");
        var point = page.Locator("section.op[data-op='protect-present-hot'] circle.pt").Last;
        await point.ClickAsync();
        Assert.Contains("protect-present-hot", await page.Locator("#detail.shown").InnerTextAsync());

        string shot = Path.Combine(AppContext.BaseDirectory, "report-screenshot.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = false });
        Assert.True(new FileInfo(shot).Length > 10_000, "the screenshot is empty");
        output.WriteLine($"screenshot: {shot}");
        Assert.Empty(errors);
        await browser.CloseAsync(); // chromium writes its profile until it has exited
        Directory.Delete(dir, recursive: true);
    }
}
