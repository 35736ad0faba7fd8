using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Running;
using FastPT.Kernels;

namespace FastPT.Scenarios.Tests.Running;

/// <summary>The runner's report format and error handling, on a scripted fake backend.</summary>
public sealed class RunnerTests
{
    private sealed class FakeBackend : IScenarioBackend, IRunDisturbance
    {
        public List<string> Calls { get; } = [];
        public Func<long, bool, AccessOutcome> OnAccess { get; set; } = (_, _) => AccessOutcome.Completed;
        public Func<long, ulong> Entry { get; set; } = _ => 0;
        public IReadOnlyList<ScanRun> ScanResult { get; set; } = [];
        public string? Disturbance { get; set; }
        public Exception? ThrowOnZap { get; set; }

        public void Open(UffdFeatures features) => Calls.Add($"open {features.WpUnpopulated} {features.WpAsync}");
        public void CreateRegion(RegionSpec region) => Calls.Add($"region {region}");
        public AccessOutcome Access(string region, long page, bool write)
        {
            Calls.Add($"access {region}:{page} {write}");
            return OnAccess(page, write);
        }
        public void Zap(string region, long first, long count)
        {
            Calls.Add($"zap {region}:{first}+{count}");
            if (ThrowOnZap is not null)
                throw ThrowOnZap;
        }
        public void WriteProtect(string region, long first, long count, bool protect) => Calls.Add($"wp {region}:{first}+{count} {protect}");
        public void Protect(string region, long first, long count, Protection protection) => Calls.Add($"protect {region}:{first}+{count} {protection}");
        public void Unregister(string region) => Calls.Add($"unregister {region}");
        public void Pagemap(string region, long first, long count, Span<ulong> entries)
        {
            Calls.Add($"pagemap {region}:{first}+{count}");
            for (int i = 0; i < count; i++)
                entries[i] = Entry(first + i);
        }
        public ScanOutcome Scan(string region, long first, long count, ScanRequest request)
        {
            Calls.Add($"scan {region}:{first}+{count} {request}");
            return new ScanOutcome(ScanResult, first + count);
        }
        public string? DisturbedBy() => Disturbance;
        public void Dispose() => Calls.Add("dispose");
    }

    private static (int Code, string Report, string Error) Run(string text, FakeBackend backend)
    {
        var report = new StringWriter();
        var error = new StringWriter();
        int code = ScriptRunner.Run(text, () => backend, report, error);
        return (code, report.ToString().Replace("\r\n", "\n"), error.ToString().Replace("\r\n", "\n"));
    }

    [Fact]
    public void Pagemap_report_merges_runs_of_equal_letters_only()
    {
        const ulong P = 1UL << 63, S = 1UL << 62, W = 1UL << 57, F = 1UL << 61, Soft = 1UL << 55;
        var backend = new FakeBackend
        {
            // Bits outside the four letters (soft-dirty, PFN) must not split runs.
            Entry = p => p switch { < 2 => P | F | (ulong)p, 2 => P | F | Soft, < 5 => S | W, 5 => P | S | W | F, _ => 0 },
        };
        var (code, report, _) = Run("region f file 8\npagemap f:0x0+8 # all", backend);
        Assert.Equal(0, code);
        Assert.Equal("pagemap f:0x0+8\n  f 0-2 P--F\n  f 3-4 -SW-\n  f 5-5 PSWF\n  f 6-7 ----\n", report);
    }

    [Fact]
    public void Scan_report_prints_runs_as_returned_with_category_names()
    {
        var backend = new FakeBackend
        {
            ScanResult = [new ScanRun(0, 3, PageCategories.Written | PageCategories.Present), new ScanRun(8, 8, PageCategories.None),
                new ScanRun(9, 9, PageCategories.SoftDirty | PageCategories.Guard | PageCategories.WpAllowed)],
        };
        var (code, report, _) = Run("region a anon 16 wp async\nscan a:0+16 wp mask=written return=written,present", backend);
        Assert.Equal(0, code);
        Assert.Equal("scan a:0+16 wp mask=written return=written,present\n  a 0-3 written|present\n  a 8-8 -\n  a 9-9 wpallowed|soft-dirty|guard\n", report);
        Assert.Contains("scan a:0+16 ScanRequest { WriteProtectMatching = True, Mask = Written, AnyOf = None, Inverted = None, Return = Written, Present, MaxPages = 0, VecLength = 0 }", backend.Calls);
        Assert.Equal("open True True", backend.Calls[0]);
    }

    [Fact]
    public void Faults_print_one_line_per_page_in_order()
    {
        var backend = new FakeBackend
        {
            OnAccess = (p, w) => p == 1 ? AccessOutcome.WpFault : p == 2 ? AccessOutcome.Segv : AccessOutcome.Completed,
        };
        var (code, report, _) = Run("region f file 4 wp\nwrite f:0+4\nread f:2", backend);
        Assert.Equal(0, code);
        Assert.Equal("fault write f:1 wp\nfault write f:2 segv\nfault read f:2 segv\n", report);
    }

    [Fact]
    public void Bad_input_stops_after_printing_the_report_before_it_and_backend_never_sees_it()
    {
        var backend = new FakeBackend();
        var (code, report, error) = Run("region f file 4 wp\npagemap f\nunregister f\nwrite f:1\nwp f:0\npagemap f\n", backend);
        Assert.Equal(2, code);
        Assert.Equal("pagemap f\n  f 0-3 ----\n", report);
        Assert.Equal("error: line 5: wp on region 'f', which is not registered for write-protect (declare it with the 'wp' option, and do not use it after 'unregister')\n", error);
        Assert.Equal(["open False False", "region RegionSpec { Name = f, Kind = File, Pages = 4, Wp = True, Thp = False }",
            "pagemap f:0+4", "unregister f", "access f:1 True", "dispose"], backend.Calls);
    }

    [Fact]
    public void Environment_failures_exit_2_naming_the_line()
    {
        var backend = new FakeBackend { ThrowOnZap = new FastPT.Linux.SyscallException("madvise(MADV_DONTNEED)", 22) };
        var (code, report, error) = Run("region f file 4\npagemap f:0\nzap f:0\npagemap f:1\n", backend);
        Assert.Equal(2, code);
        Assert.Equal("pagemap f:0\n  f 0-0 ----\n", report);
        Assert.StartsWith("error: line 3: madvise(MADV_DONTNEED) failed: EINVAL (", error);
    }

    [Fact]
    public void A_disturbed_run_is_repeated_and_gives_up_after_max_attempts()
    {
        int created = 0;
        var report = new StringWriter();
        var error = new StringWriter();
        int code = ScriptRunner.Run("region t anon 512 thp\npagemap t:0", () =>
        {
            created++;
            return new FakeBackend { Disturbance = created < 3 ? "khugepaged" : null };
        }, report, error);
        Assert.Equal(0, code);
        Assert.Equal(3, created);
        Assert.Equal("pagemap t:0\n  t 0-0 ----\n", report.ToString());

        created = 0;
        code = ScriptRunner.Run("region t anon 512 thp", () => { created++; return new FakeBackend { Disturbance = "khugepaged" }; }, report, error);
        Assert.Equal(2, code);
        Assert.Equal(ScriptRunner.MaxAttempts, created);
        Assert.Contains("disturbed: khugepaged", error.ToString());
    }
}
