using FastPT.Entries;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>The seed commit's cases on the model directly; the golden scenarios check the rest against the kernel.</summary>
public class MemoryModelTests
{
    private const ulong Base = 0x7F00_0000_0000;

    private static string State(MemoryModel m, int page)
    {
        ulong pm = m.Pagemap(Base + ((ulong)page << 12));
        return $"{((pm & PagemapBits.Present) != 0 ? 'P' : '-')}{((pm & PagemapBits.Swap) != 0 ? 'S' : '-')}"
            + $"{((pm & PagemapBits.UffdWp) != 0 ? 'W' : '-')}{((pm & PagemapBits.File) != 0 ? 'F' : '-')}";
    }

    private static string States(MemoryModel m, int pages) =>
        string.Join(" ", Enumerable.Range(0, pages).Select(p => State(m, p)));

    [Fact]
    public void SpecExample_ProducesTheKernelsStates()
    {
        using var m = new MemoryModel();
        m.Map(Base, 8 * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.RegisterWriteProtect(Base, 8 * 4096, new FlushPlan());
        for (int p = 0; p < 3; p++)
            Assert.Equal(AccessOutcome.Completed, m.Access(Base + (ulong)p * 4096, write: true, new FlushPlan()).Outcome);
        m.Zap(Base, 8 * 4096, new FlushPlan());
        var wp = m.WriteProtect(Base, 8 * 4096, protect: true, new FlushPlan());
        Assert.Equal(8, wp.EntriesChanged);
        Assert.Equal(string.Join(" ", Enumerable.Repeat("-SW-", 8)), States(m, 8));

        Assert.Equal(AccessOutcome.Completed, m.Access(Base + 4096, write: false, new FlushPlan()).Outcome);
        var fault = m.Access(Base + 2 * 4096, write: true, new FlushPlan());
        Assert.Equal(AccessOutcome.WriteProtectFault, fault.Outcome);
        Assert.Equal(UffdMessage.FlagWrite | UffdMessage.FlagWp, fault.Message.Flags);
        Assert.Equal(Base + 2 * 4096, fault.Message.Address);
        m.WriteProtect(Base + 2 * 4096, 4096, protect: false, new FlushPlan());
        Assert.Equal(AccessOutcome.Completed, m.Access(Base + 2 * 4096, write: true, new FlushPlan()).Outcome);
        Assert.Equal("-SW- P-WF P--F -SW- -SW- -SW- -SW- -SW-", States(m, 8));

        m.WriteProtect(Base, 8 * 4096, protect: false, new FlushPlan());
        Assert.Equal("---- P--F P--F ---- ---- ---- ---- ----", States(m, 8));
    }

    [Fact]
    public void Protect_InstallsTheMarkerValue_AndAllocatesTablesLazily()
    {
        using var m = new MemoryModel();
        ulong start = Base + (1UL << 30) - 4096; // crosses a 1 GiB (pud) boundary
        m.Map(start, 2 * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.RegisterWriteProtect(start, 2 * 4096, new FlushPlan());
        long before = m.TablesInUse;
        var r = m.WriteProtect(start, 2 * 4096, protect: true, new FlushPlan());
        Assert.Equal(PteMarker.UffdWp, m.Space.Entry(start, 1));
        Assert.Equal(PteMarker.UffdWp, m.Space.Entry(start + 4096, 1));
        // One pud table, pmd table and pte table on each side of the boundary.
        Assert.Equal(r.TablesAllocated, m.TablesInUse - before);
        Assert.True(r.TablesAllocated >= 4, $"allocated {r.TablesAllocated}");
    }

    [Fact]
    public void AnonymousWithoutUnpopulated_GetsNoMarkers_WithUnpopulatedDoes()
    {
        foreach (var features in new[] { UffdFeatures.None, UffdFeatures.WpUnpopulated })
        {
            using var m = new MemoryModel(features);
            m.Map(Base, 4 * 4096, Backing.Anon, MemoryProtection.ReadWrite);
            m.RegisterWriteProtect(Base, 4 * 4096, new FlushPlan());
            m.WriteProtect(Base, 4 * 4096, protect: true, new FlushPlan());
            string expected = features == UffdFeatures.None ? "---- ---- ---- ----" : "-SW- -SW- -SW- -SW-";
            Assert.Equal(expected, States(m, 4));
            // A read over a marker maps the zero page write-protected; without one it is plain.
            m.Access(Base, write: false, new FlushPlan());
            Assert.Equal(features == UffdFeatures.None ? "P---" : "P-W-", State(m, 0));
        }
    }

    [Fact]
    public void ZapOfProtectedFileKeepsMarkers_AnonymousDropsThem()
    {
        using var m = new MemoryModel(UffdFeatures.WpUnpopulated);
        m.Map(Base, 2 * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.Map(Base + (1UL << 21), 2 * 4096, Backing.Anon, MemoryProtection.ReadWrite);
        foreach (ulong b in new[] { Base, Base + (1UL << 21) })
        {
            m.RegisterWriteProtect(b, 2 * 4096, new FlushPlan());
            m.Access(b, write: true, new FlushPlan());
            m.WriteProtect(b, 2 * 4096, protect: true, new FlushPlan());
            m.Zap(b, 2 * 4096, new FlushPlan());
        }
        Assert.Equal(PteMarker.UffdWp, m.Space.Entry(Base, 1));
        Assert.Equal(PteMarker.UffdWp, m.Space.Entry(Base + 4096, 1));
        Assert.Equal(0UL, m.Space.Entry(Base + (1UL << 21), 1));
    }

    [Fact]
    public void WriteToReadOnlyMapping_IsASegv_AndChangesNothing()
    {
        using var m = new MemoryModel();
        m.Map(Base, 4096, Backing.File, MemoryProtection.ReadWrite);
        m.Protect(Base, 4096, MemoryProtection.Read, new FlushPlan());
        Assert.Equal(AccessOutcome.SegmentationFault, m.Access(Base, write: true, new FlushPlan()).Outcome);
        Assert.Equal("----", State(m, 0));
        Assert.Equal(AccessOutcome.Completed, m.Access(Base, write: false, new FlushPlan()).Outcome);
        Assert.Equal("P--F", State(m, 0));
    }

    [Fact]
    public void A_file_mapped_where_an_unmapped_one_was_starts_with_an_empty_page_cache()
    {
        // Fault-around maps the cached neighbours of a read fault: a page cache that kept the
        // old file's pages (a reused chunk not cleared) would map them here.
        using var m = new MemoryModel();
        var flush = new FlushPlan();
        m.Map(Base, 64 * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.Map(Base + 64 * 4096, 64 * 4096, Backing.File, MemoryProtection.ReadWrite);
        for (int p = 0; p < 64; p++)
            m.Access(Base + (ulong)p * 4096, write: true, flush);
        m.Unmap(Base + 64 * 4096, 64 * 4096, flush); // a file that never cached a page goes first
        m.Unmap(Base, 64 * 4096, flush);
        m.Map(Base, 64 * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.Access(Base + 8 * 4096, write: false, flush); // caches page 8 (its chunk made now)
        m.Access(Base + 9 * 4096, write: false, flush); // fault-around maps what the chunk holds
        Assert.Equal("P--F", State(m, 8));
        Assert.Equal(string.Join(" ", Enumerable.Repeat("----", 8)), States(m, 8));
    }

    /// <summary>
    /// The page cache goes with a file's last mapping (split VMAs count as mappings each): its
    /// chunks go back to the spares for the next files, so mapping, filling and unmapping files
    /// over and over allocates no new chunk (a 64-page chunk is 512 bytes of frames).
    /// </summary>
    [Fact]
    public void A_files_page_cache_is_reused_after_its_last_mapping_goes()
    {
        using var m = new MemoryModel();
        var flush = new FlushPlan();
        void Cycle()
        {
            m.Map(Base, 64 * 4096, Backing.File, MemoryProtection.ReadWrite);
            m.Protect(Base + 32 * 4096, 32 * 4096, MemoryProtection.Read, flush); // two VMAs, one file
            for (int p = 0; p < 64; p++)
                m.Access(Base + (ulong)p * 4096, write: false, flush);
            m.Unmap(Base + 32 * 4096, 32 * 4096, flush);
            m.Unmap(Base, 32 * 4096, flush);
            flush.Clear();
        }
        for (int i = 0; i < 50; i++)
            Cycle();
        const int cycles = 400;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < cycles; i++)
            Cycle();
        long perCycle = (GC.GetAllocatedBytesForCurrentThread() - before) / cycles;
        Assert.True(perCycle < 512, $"{perCycle} bytes per map/fill/unmap cycle: a page-cache chunk is not reused");
    }

    [Fact]
    public void A_file_keeps_its_page_cache_while_any_part_of_it_is_mapped()
    {
        using var m = new MemoryModel();
        var flush = new FlushPlan();
        m.Map(Base, 128 * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.Protect(Base + 64 * 4096, 64 * 4096, MemoryProtection.Read, flush); // two VMAs, one file
        for (int p = 0; p < 128; p++)
            m.Access(Base + (ulong)p * 4096, write: false, flush);
        ulong[] frames = [.. Enumerable.Range(0, 64).Select(p => m.Pagemap(Base + (ulong)p * 4096) & PagemapBits.PfnMask)];
        m.Unmap(Base + 64 * 4096, 64 * 4096, flush); // one VMA of the file goes
        m.Zap(Base, 64 * 4096, flush);               // the other's entries go, its page cache stays
        for (int p = 0; p < 64; p++)
        {
            m.Access(Base + (ulong)p * 4096, write: false, flush);
            Assert.Equal(frames[p], m.Pagemap(Base + (ulong)p * 4096) & PagemapBits.PfnMask);
        }
    }

    /// <summary>
    /// The whole pagemap word of each kind of page the model makes (the reports show four of
    /// its bits; PagemapWordTests holds the flags and marker words to the kernel, which gives no
    /// fixed PFN to compare): a huge leaf's inner pages carry their own frames, a written page is
    /// mapped once whether anonymous or file, the zero pages are mapped by no one.
    /// </summary>
    [Fact]
    public void Pagemap_words_name_each_pages_own_frame_and_who_maps_it()
    {
        using var m = new MemoryModel(UffdFeatures.WpAsync);
        ulong thp = Base + (3UL << 30) + (6UL << 20); // not 1 GiB aligned: the inner page number is the low 9 bits only
        m.Map(thp, 1024 * 4096, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        Assert.Equal(AccessOutcome.Completed, m.Access(thp + 5 * 4096, write: true, new FlushPlan()).Outcome);
        Assert.Equal(AccessOutcome.Completed, m.Access(thp + (512 + 9) * 4096, write: false, new FlushPlan()).Outcome);
        ulong head = m.Pagemap(thp);
        Assert.Equal(PagemapBits.Present | PagemapBits.MmapExclusive, head & ~PagemapBits.PfnMask);
        Assert.Equal(0UL, head & 511); // a THP's frames are 2 MiB aligned, as the kernel's are
        foreach (int sub in new[] { 1, 5, 256, 511 })
            Assert.Equal(head + (ulong)sub, m.Pagemap(thp + (ulong)sub * 4096));
        foreach (int sub in new[] { 0, 9, 511 }) // the huge zero page: a file page, and no one's
            Assert.Equal(PagemapBits.Present | PagemapBits.File | (FrameAllocator.HugeZeroPfn + (ulong)sub), m.Pagemap(thp + (ulong)(512 + sub) * 4096));

        m.RegisterWriteProtect(thp, 512 * 4096, new FlushPlan());
        m.WriteProtect(thp, 512 * 4096, protect: true, new FlushPlan());
        Assert.Equal(head + 300 | PagemapBits.UffdWp, m.Pagemap(thp + 300 * 4096));

        ulong small = Base + (1UL << 30);
        m.Map(small, 4 * 4096, Backing.Anon, MemoryProtection.ReadWrite);
        m.Access(small, write: false, new FlushPlan());
        m.Access(small + 4096, write: true, new FlushPlan());
        Assert.Equal(PagemapBits.Present | FrameAllocator.ZeroPfn, m.Pagemap(small)); // the zero page: no struct page to report
        Assert.Equal(PagemapBits.Present | PagemapBits.MmapExclusive, m.Pagemap(small + 4096) & ~PagemapBits.PfnMask);

        ulong file = Base + (2UL << 30);
        m.Map(file, 4 * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.Access(file, write: true, new FlushPlan());
        m.RegisterWriteProtect(file, 4 * 4096, new FlushPlan());
        m.WriteProtect(file, 4 * 4096, protect: true, new FlushPlan());
        Assert.Equal(PagemapBits.Present | PagemapBits.MmapExclusive | PagemapBits.File | PagemapBits.UffdWp, m.Pagemap(file) & ~PagemapBits.PfnMask);
        Assert.Equal(0x4200_0000_0000_003FUL, m.Pagemap(file + 4096)); // a marker: swap type 31 | offset 1 << 5, as the kernel reads it
    }

    /// <summary>
    /// mprotect to RW and uffd-wp resolve give write access back at once exactly where Linux
    /// 6.18 does (each row checked there: a C program counts the minor faults of the next write).
    /// shmem wants no write notification, so mprotect gives a shared page the writable page
    /// protection whatever its state; once uffd-wp registration turns write notification on, a
    /// shared page waits for its write fault even when dirty (TRY_CHANGE_WRITABLE is never
    /// asked for a shared VMA). A private one gets it back where can_change_pte_writable says:
    /// an exclusive anonymous page, dirty or not; never the zero page.
    /// </summary>
    [Theory]
    [InlineData(Backing.Anon, true, false, false, true)]
    [InlineData(Backing.Anon, false, false, false, false)] // read: the zero page
    [InlineData(Backing.File, true, false, false, true)]
    [InlineData(Backing.File, false, false, false, true)] // clean, but the VMA's page protection is writable
    [InlineData(Backing.Anon, true, true, false, true)]
    [InlineData(Backing.Anon, false, true, false, false)]
    [InlineData(Backing.File, true, true, false, false)] // dirty, and still the write fault
    [InlineData(Backing.File, false, true, false, false)]
    [InlineData(Backing.Anon, true, false, true, true)]
    [InlineData(Backing.Anon, false, false, true, false)]
    [InlineData(Backing.File, true, false, true, false)]
    public void Write_access_comes_back_at_once_only_where_Linux_may_change_the_pte(Backing backing, bool written, bool viaUffd, bool registered, bool writable)
    {
        using var m = new MemoryModel();
        m.Map(Base, 4 * 4096, backing, MemoryProtection.ReadWrite);
        Assert.Equal(AccessOutcome.Completed, m.Access(Base, write: written, new FlushPlan()).Outcome);
        if (registered || viaUffd)
            m.RegisterWriteProtect(Base, 4 * 4096, new FlushPlan());
        if (viaUffd)
        {
            m.WriteProtect(Base, 4 * 4096, protect: true, new FlushPlan());
            Assert.Equal(0UL, m.Space.Entry(Base, 1) & Pte.Writable);
            m.WriteProtect(Base, 4 * 4096, protect: false, new FlushPlan());
        }
        else
        {
            m.Protect(Base, 4 * 4096, MemoryProtection.Read, new FlushPlan());
            Assert.Equal(0UL, m.Space.Entry(Base, 1) & Pte.Writable);
            m.Protect(Base, 4 * 4096, MemoryProtection.ReadWrite, new FlushPlan());
        }
        Assert.Equal(writable, (m.Space.Entry(Base, 1) & Pte.Writable) != 0);
    }
}
