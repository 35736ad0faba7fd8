using FastPT;
using FastPT.Uffd;
using Xunit;

namespace FastPT.Tests.Docs;

/// <summary>
/// The README's tour of the API, run as written, so the first code a user copies works. The tour
/// exists in three places — README.md's code block, the test below (the same statements with
/// checks between them) and examples/consumer/Program.cs (the block verbatim, run by .ci/run
/// against the packed FastPT package) — and the other tests here fail when they drift apart.
/// </summary>
public class ReadmeTourTests
{
    // The statements of this method, without its Assert statements, are the README's block.
    [Fact]
    public void TourRunsAsTheReadmeSays()
    {
        using var table = new PageTable();

        var m = table.MapRange(0x4000_0000, 0x8020_1000, 0x1_0000_0000, PageFlags.Writable | PageFlags.User);
        Assert.Equal(new MapResult(Leaves4K: 1, Leaves2M: 1, Leaves1G: 1, TablesAllocated: 3), m); // PDPT, PD, one PTE table

        var t = table.Translate(0x8020_0123, AccessType.Write, CpuMode.UserMode);
        Assert.True(t.Success);
        Assert.Equal(0x1_4020_0123UL, t.PhysicalAddress);
        Assert.Equal(PageSize.Size4K, t.Size);

        var flush = new FlushPlan();
        WalkResult r = table.WriteProtect(0x4000_0000, 0x8020_1000, flush);
        Assert.True(r.Complete);
        Assert.Equal((0x8020_1000L - 0x4000_0000L) >> 12, r.EntriesChanged);
        Assert.Equal(new FlushRange(0x4000_0000, 0x8020_1000), Assert.Single(flush.Ranges.ToArray()));
        var fault = table.Translate(0x8020_0123, AccessType.Write, CpuMode.UserMode);
        Assert.False(fault.Success);
        Assert.Equal(PageFaultError.Present | PageFaultError.Write | PageFaultError.User, fault.ErrorCode);
        flush.Clear();
        table.Unprotect(0x4000_0000, 0x8020_1000, flush);

        table.Translate(0x8000_0042, AccessType.Write, CpuMode.UserMode);
        var dirty = new ulong[9];
        table.Harvest(0x8000_0000, 0x8020_1000, dirty, flush);
        Assert.Equal([.. Enumerable.Repeat(ulong.MaxValue, 8), 1UL], dirty);
        table.Verify().ThrowIfInvalid();

        using var mm = new MemoryModel(UffdFeatures.WpAsync);
        mm.Map(0x7f00_0000_0000, 64 << 12, Backing.File, MemoryProtection.ReadWrite);
        mm.RegisterWriteProtect(0x7f00_0000_0000, 64 << 12, flush);
        flush.Clear();
        mm.WriteProtect(0x7f00_0000_0000, 64 << 12, protect: true, flush);
        var access = mm.Access(0x7f00_0000_1000, write: true, flush);
        Assert.Equal(AccessOutcome.Completed, access.Outcome);
        var regions = new PageRegion[16];
        var written = mm.Scan(0x7f00_0000_0000, 0x7f00_0004_0000,
            new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true), regions, flush);
        Assert.Equal(1, written.RegionCount);
        Assert.Equal(new PageRegion(0x7f00_0000_1000, 0x7f00_0000_2000, regions[0].Categories), regions[0]);
    }

    [Fact]
    public void ThisTestRunsTheReadmeStatements()
    {
        string source = File.ReadAllText(Path.Combine(ReadmeTour.Root, "tests", "FastPT.Tests", "Docs", "ReadmeTourTests.cs"));
        var file = ReadmeTour.Statements(source);
        var body = ReadmeTour.Statements(ReadmeTour.MethodBody(source, nameof(TourRunsAsTheReadmeSays)));
        var readme = ReadmeTour.Statements(ReadmeTour.Block());

        string[] missing = [.. readme.Where(ReadmeTour.IsUsingDirective).Except(file.Where(ReadmeTour.IsUsingDirective))];
        Assert.True(missing.Length == 0, $"ReadmeTourTests.cs lacks the README tour's {string.Join(", ", missing)}");
        string? difference = ReadmeTour.FirstDifference(
            [.. readme.Where(s => !ReadmeTour.IsUsingDirective(s))],
            [.. body.Where(s => !s.StartsWith("Assert.", StringComparison.Ordinal))]);
        Assert.True(difference == null,
            $"{nameof(TourRunsAsTheReadmeSays)}, less its Assert statements, is not the README's tour: {difference}. " +
            "Make its statements the README block's (comments and layout may differ) and keep checks in Assert statements.");
    }

    [Fact]
    public void ConsumerExampleIsTheReadmeTour()
    {
        string path = Path.Combine(ReadmeTour.Root, "examples", "consumer", "Program.cs");
        string program = File.ReadAllText(path);
        int begin = program.IndexOf(ReadmeTour.BeginMarker, StringComparison.Ordinal);
        int end = program.IndexOf(ReadmeTour.EndMarker, StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"{path} has no '{ReadmeTour.BeginMarker.Trim()}' ... '{ReadmeTour.EndMarker.Trim()}' section");
        begin += ReadmeTour.BeginMarker.Length;

        string block = ReadmeTour.Block();
        if (program[begin..end] != block && Environment.GetEnvironmentVariable("FASTPT_UPDATE_TOUR") == "1")
        {
            program = program[..begin] + block + program[end..];
            File.WriteAllText(path, program);
            end = begin + block.Length;
        }
        Assert.True(program[begin..end] == block,
            $"examples/consumer/Program.cs's tour differs from the README's ({ReadmeTour.FirstDifference(ReadmeTour.Statements(block), ReadmeTour.Statements(program[begin..end])) ?? "in comments or layout"}); " +
            "copy the README block between its markers, or run `FASTPT_UPDATE_TOUR=1 dotnet test tests/FastPT.Tests -c Release --filter ReadmeTour`");
    }
}
