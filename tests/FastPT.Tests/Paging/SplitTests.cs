using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Paging;

public unsafe class SplitTests
{
    private const ulong Va = 0x40_0000_0000;        // 1 GiB aligned, its own PML4 slot path
    private const ulong SoftBits = Pte.Special | Pte.UffdWp | Pte.SoftDirty | Pte.SavedDirty | (0x5UL << 59);

    private static ulong[] Children(AddressSpace space, int level)
    {
        ulong link = space.Entry(Va, level);
        Assert.Equal(PgProt.Table, link & ~Pte.PfnMask);
        return new ReadOnlySpan<ulong>(space.Table(link & Pte.PfnMask), 512).ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Split2MGivesConsecutive4KPtesWithPatAtBit7(bool pat)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        ulong flags = PgProt.Shared | Pte.Dirty | Pte.Global | Pte.WriteThrough | Pte.CacheDisable | SoftBits | (pat ? Pte.PatLarge : 0);
        space.Map(Va, 0x1_2340_0000, PageSize.Size2M, flags);
        ulong huge = space.Entry(Va, 2);
        long inUse = src.TablesInUse;
        ulong tablePa = space.Split(Va, 2);
        Assert.Equal(inUse + 1, src.TablesInUse);
        Assert.Equal(tablePa | PgProt.Table, space.Entry(Va, 2));
        ulong[] ptes = Children(space, 2);
        ulong childFlags = (huge & ~Pte.PfnMask & ~Pte.PageSize) | (pat ? Pte.Pat4K : 0);
        for (int i = 0; i < 512; i++)
        {
            Assert.Equal(0x1_2340_0000UL + (ulong)i * 4096 | childFlags, ptes[i]);
            Assert.Equal(pat, (ptes[i] & Pte.Pat4K) != 0);
        }
        // Every 4 KiB page translates as before.
        for (ulong off = 0; off < 0x20_0000; off += 0x3_1000)
            Assert.Equal(0x1_2340_0000UL + off + 0x10, space.Translate(Va + off + 0x10, AccessType.Read, CpuMode.UserMode).PhysicalAddress);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Split1GGivesConsecutive2MLeavesKeepingPatAtBit12(bool pat)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        ulong flags = PgProt.ReadOnly | Pte.Accessed | SoftBits | (pat ? Pte.PatLarge : 0);
        space.Map(Va, 0x3_C000_0000, PageSize.Size1G, flags);
        ulong huge = space.Entry(Va, 3);
        space.Split(Va, 3);
        ulong[] pmds = Children(space, 3);
        for (int i = 0; i < 512; i++)
        {
            Assert.Equal(0x3_C000_0000UL + (ulong)i * 0x20_0000 | (huge & ~Pte.PfnMask) | (pat ? Pte.PatLarge : 0), pmds[i]);
            Assert.NotEqual(0UL, pmds[i] & Pte.PageSize);
        }
        // Splitting one of the new 2M leaves again reaches 4 KiB with consecutive frames.
        space.Split(Va + 7 * 0x20_0000, 2);
        var r = space.Translate(Va + 7 * 0x20_0000 + 0x5123, AccessType.Read, CpuMode.UserMode);
        Assert.Equal((true, 0x3_C000_0000UL + 7 * 0x20_0000 + 0x5123, PageSize.Size4K), (r.Success, r.PhysicalAddress, r.Size));
    }

    [Fact]
    public void SplitProtNone2MKeepsTheInvertedFrames()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        const ulong pfn = 0x40200;                                          // 2 MiB aligned frame 0x4020_0000
        // pfn_pmd(pfn, PAGE_NONE | PSE | PAT_LARGE): frame bits 21..51 inverted, bit 12 from the pgprot.
        ulong huge = ((pfn << 12) ^ Pte.Pfn2MMask) & Pte.Pfn2MMask | PgProt.None | Pte.PageSize | Pte.PatLarge | Pte.UffdWp;
        space.Map(Va, 0, PageSize.Size2M, PgProt.Shared);                   // build the path
        space.Entry(Va, 2) = huge;
        Assert.Equal(pfn, (L1tfHugePfn(huge, Pte.Pfn2MMask)));
        space.Split(Va, 2);
        ulong[] ptes = Children(space, 2);
        for (int i = 0; i < 512; i++)
        {
            ulong expected = L1tf.PfnEntry(pfn + (ulong)i, PgProt.None | Pte.Pat4K | Pte.UffdWp);
            Assert.Equal(expected, ptes[i]);
            Assert.Equal(pfn + (ulong)i, L1tf.Pfn(ptes[i]));
            Assert.True(LinuxPte.IsProtNone(ptes[i]));
        }
    }

    [Fact]
    public void SplitProtNone1GKeepsTheInvertedFrames()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        const ulong pfn = 0x3_C000_0000 >> 12;
        ulong huge = ((pfn << 12) ^ Pte.Pfn1GMask) & Pte.Pfn1GMask | PgProt.None | Pte.PageSize;
        space.Map(Va, 0, PageSize.Size1G, PgProt.Shared);
        space.Entry(Va, 3) = huge;
        space.Split(Va, 3);
        ulong[] pmds = Children(space, 3);
        for (int i = 0; i < 512; i++)
        {
            ulong childPfn = pfn + (ulong)i * 512;
            Assert.Equal(((childPfn << 12) ^ Pte.Pfn2MMask) & Pte.Pfn2MMask | PgProt.None | Pte.PageSize, pmds[i]);
            Assert.Equal(childPfn, L1tfHugePfn(pmds[i], Pte.Pfn2MMask));
        }
    }

    /// <summary>pmd_pfn / pud_pfn: undo the inversion, then take the frame of that size.</summary>
    private static ulong L1tfHugePfn(ulong v, ulong frameMask) => ((L1tf.NeedsInvert(v) ? ~v : v) & frameMask) >> 12;

    [Theory]
    [InlineData(2, PteMarker.UffdWp)]
    [InlineData(2, PteMarker.Guard)]
    [InlineData(3, PteMarker.UffdWp)]
    [InlineData(3, 0xFFFF_FFFF_FFFF_F800UL)]
    public void SplitReplicatesAMarker(int level, ulong marker)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(Va, 0, level == 2 ? PageSize.Size2M : PageSize.Size1G, PgProt.Shared);
        space.Entry(Va, level) = marker;
        space.Split(Va, level);
        Assert.All(Children(space, level), e => Assert.Equal(marker, e));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void SplitGivesEachMigrationEntryItsOwnFrame(int level)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        const int migrationWrite = 26;                                     // 6.12 with DEVICE_PRIVATE
        const ulong pfn = 0x3_C000_0000 >> 12;                             // 1 GiB aligned
        ulong huge = SwapEntry.Make(migrationWrite, pfn) | SwapEntry.UffdWp | SwapEntry.Exclusive;
        space.Map(Va, 0, level == 2 ? PageSize.Size2M : PageSize.Size1G, PgProt.Shared);
        space.Entry(Va, level) = huge;
        space.Split(Va, level);
        ulong[] children = Children(space, level);
        ulong step = level == 2 ? 1UL : 512UL;
        for (int i = 0; i < 512; i++)
        {
            Assert.Equal(migrationWrite, SwapEntry.Type(children[i]));
            Assert.Equal(pfn + (ulong)i * step, SwapEntry.Offset(children[i]));
            Assert.Equal(SwapEntry.UffdWp | SwapEntry.Exclusive, children[i] & 0x1FF);
            Assert.Equal(EntryKind.Swap, LinuxPte.Classify(children[i]));
        }
    }

    [Fact]
    public void SplitRefusesWhatIsNotAHugeLeafAndChangesNothing()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(Va + 0x1000, 0x1000, PageSize.Size4K, PgProt.Shared);
        long inUse = src.TablesInUse;
        ulong link = space.Entry(Va, 2);
        Assert.Throws<InvalidOperationException>(() => space.Split(Va, 2));                 // a table link
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Split(Va, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Split(Va, 4));
        Assert.Throws<InvalidOperationException>(() => space.Split(Va + 0x20_0000, 2));     // empty slot
        Assert.Throws<InvalidOperationException>(() => space.Split(0x7F_0000_0000, 2));     // no path
        space.Map(Va + 0x4000_0000, 0x4000_0000, PageSize.Size1G, PgProt.Shared);
        Assert.Throws<InvalidOperationException>(() => space.Split(Va + 0x4000_0000, 2));   // path ends in a 1G leaf
        long withGiant = src.TablesInUse;
        Assert.Throws<ArgumentException>(() => space.Split(Va + 0x4000_0000, 3, tableFlags: 0x1067));
        Assert.Equal(withGiant, src.TablesInUse);
        Assert.Equal(inUse, withGiant);
        Assert.Equal(link, space.Entry(Va, 2));
    }
}
