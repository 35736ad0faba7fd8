using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Docs;

/// <summary>The README's tour of the API, run as written, so the first code a user copies works.</summary>
public class ReadmeTourTests
{
    [Fact]
    public void TourRunsAsTheReadmeSays()
    {
        using var tables = new NativeTableSource();
        using var space = new AddressSpace(tables, levels: 4);

        space.Map(0x4000_0000, 0x1_0000_0000, PageSize.Size2M, PgProt.Shared | Pte.Dirty);
        space.Map(0x4020_0000, 0x2_0000_0000, PageSize.Size4K, PgProt.Shared);

        var t = space.Translate(0x4020_0123, AccessType.Write, new CpuMode(User: true));
        Assert.True(t.Success);
        Assert.Equal(0x2_0000_0123UL, t.PhysicalAddress);
        Assert.Equal(PageSize.Size4K, t.Size);

        var flush = new FlushPlan();
        var wp = ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true);
        WalkResult r = PageTableOps.ChangeProtection(space, 0x4000_0000, 0x8000_0000, wp, flush);
        Assert.True(r.Complete);
        Assert.Equal((0x8000_0000L - 0x4000_0000L) >> 12, r.EntriesChanged);
        Assert.True(r.TablesAllocated > 0);
        // Only the two present mappings lost RW; the markers need no flush.
        Assert.Equal(new FlushRange(0x4000_0000, 0x4020_1000), flush.Ranges[0]);
        space.Verify().ThrowIfInvalid();

        using var mm = new MemoryModel(UffdFeatures.WpAsync);
        mm.Map(0x7f00_0000_0000, 64 << 12, Backing.File, MemoryProtection.ReadWrite);
        mm.RegisterWriteProtect(0x7f00_0000_0000, 64 << 12);
        flush.Clear();
        mm.WriteProtect(0x7f00_0000_0000, 64 << 12, protect: true, flush);
        var access = mm.Access(0x7f00_0000_1000, write: true, flush);
        Assert.Equal(AccessOutcome.Completed, access.Outcome);
        var regions = new PageRegion[16];
        var written = mm.Scan(0x7f00_0000_0000, 0x7f00_0004_0000,
            new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true), regions, flush);
        Assert.Equal(1, written.RegionCount);
        var page = regions[0];
        Assert.Equal(new PageRegion(0x7f00_0000_1000, 0x7f00_0000_2000, page.Categories), page);
    }
}
