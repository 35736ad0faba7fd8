using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// VMA merging after mprotect (VM_ACCOUNT and anon_vma rules) and the split of a PROT_NONE
/// huge zero page, on the model directly. tests/scenarios/vma-merge-anon-vma and
/// thp-zero-protnone-split check the same against the kernel.
/// </summary>
public class MemoryModelMergeTests
{
    private const ulong Base = 0x7F00_0000_0000;
    private const ulong Page = 4096;

    private static ulong At(long page) => Base + (ulong)page * Page;

    private static PageCategories Cats(MemoryModel m, long page) => m.Categories(At(page));

    [Fact]
    public void RegisteringTheRestOfAMapping_MergesItsVmas_SoAWriteFaultGetsATransparentHugePage()
    {
        // userfaultfd_register merges a newly registered range with registered neighbours
        // (vma_modify_flags_uffd). The registration of the first 256 pages split the mapping;
        // registering the rest joins it again, so the 2 MiB at Base is one VMA and a write
        // there faults in a THP, which two VMAs would not allow.
        using var m = new MemoryModel();
        m.Map(Base, 1024 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.RegisterWriteProtect(At(0), 256 * Page, new FlushPlan());
        m.RegisterWriteProtect(At(256), 768 * Page, new FlushPlan());
        Assert.Equal(1024 * Page, m.RegionLength(Base));
        Assert.Equal(AccessOutcome.Completed, m.Access(At(0), write: true, new FlushPlan()).Outcome);
        Assert.Equal(PageCategories.Huge, Cats(m, 0) & PageCategories.Huge);
    }

    [Fact]
    public void ReadOnlyNeverFaultedAnon_IsUncharged_AndDoesNotMergeWithChargedMemory()
    {
        using var m = new MemoryModel();
        m.Map(Base, 512 * Page, Backing.Anon, MemoryProtection.ReadWrite);
        m.Protect(At(0), Page, MemoryProtection.Read, new FlushPlan());
        Assert.Equal(AccessOutcome.Completed, m.Access(At(1), write: true, new FlushPlan()).Outcome);
        m.Protect(At(0), 512 * Page, MemoryProtection.Read, new FlushPlan());
        long tables = m.TablesInUse;
        m.Zap(At(0), 512 * Page, new FlushPlan());
        Assert.Equal(tables, m.TablesInUse); // two VMAs: no whole extent in one, the PTE table stays
        Assert.Equal(PageCategories.Written, Cats(m, 0));
    }

    [Fact]
    public void RechargedMiddleWithoutAnonVma_MergesBothWays_AndTheZapFreesTheTable()
    {
        using var m = new MemoryModel();
        m.Map(Base, 512 * Page, Backing.Anon, MemoryProtection.ReadWrite);
        m.Protect(At(1), Page, MemoryProtection.Read, new FlushPlan());
        m.Access(At(0), write: true, new FlushPlan());
        m.Protect(At(1), Page, MemoryProtection.ReadWrite, new FlushPlan());
        Assert.Equal(512 * Page, m.RegionLength(Base));
        long tables = m.TablesInUse;
        m.Zap(At(0), 512 * Page, new FlushPlan());
        Assert.Equal(tables - 1, m.TablesInUse);
        Assert.Equal(PageCategories.None, Cats(m, 0)); // a hole without a table
    }

    [Fact]
    public void MiddleBetweenTwoAnonVmas_MergesLeftOnly()
    {
        using var m = new MemoryModel();
        m.Map(Base, 1536 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Protect(At(510), 4 * Page, MemoryProtection.Read, new FlushPlan());
        m.Access(At(1100), write: true, new FlushPlan()); // a THP in [514, 1536): anon_vma A
        m.Access(At(0), write: true, new FlushPlan());    // a 4 KiB page in [0, 510): anon_vma B
        Assert.Equal(PageCategories.Huge, Cats(m, 1100) & PageCategories.Huge);
        Assert.Equal(PageCategories.None, Cats(m, 0) & PageCategories.Huge);
        m.Protect(At(0), 1536 * Page, MemoryProtection.ReadWrite, new FlushPlan());
        m.Access(At(600), write: true, new FlushPlan());
        // Had [510, 514) merged right, extent 512-1023 would lie inside one VMA and be huge.
        Assert.Equal(PageCategories.Written | PageCategories.Present, Cats(m, 600));
    }

    [Fact]
    public void RechargedNeverFaultedVma_MergesWithAFaultedOne_AndAHugePageFitsAgain()
    {
        using var m = new MemoryModel();
        m.Map(Base, 1024 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Protect(At(0), 520 * Page, MemoryProtection.Read, new FlushPlan());
        m.Access(At(600), write: true, new FlushPlan());  // [520, 1024) gets anon_vma A
        m.Access(At(5), write: false, new FlushPlan());   // the zero page: no anon_vma for [0, 520)
        m.Protect(At(0), 520 * Page, MemoryProtection.ReadWrite, new FlushPlan());
        Assert.Equal(1024 * Page, m.RegionLength(Base));
        m.Access(At(100), write: true, new FlushPlan()); // extent 0-511 is inside one VMA again
        Assert.Equal(PageCategories.Huge, Cats(m, 100) & PageCategories.Huge);
    }

    /// <summary>
    /// mmap joins a new anonymous mapping to compatible neighbours at once (vma_merge_new_range;
    /// checked on Linux 6.18: two adjacent 1 MiB MADV_HUGEPAGE mmaps read as one 2 MiB VMA in
    /// /proc/self/maps, and the first write maps a THP over both). A fresh memfd never joins,
    /// nor does a neighbour with another protection until an mprotect makes it compatible.
    /// </summary>
    [Fact]
    public void AdjacentAnonMappings_MergeAtMap_SoAHugePageFitsAcrossThem()
    {
        using var m = new MemoryModel();
        m.Map(At(512), 256 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Map(At(768), 256 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true); // joins the one before
        m.Map(At(256), 256 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true); // and the one after
        Assert.Equal(768 * Page, m.RegionLength(At(256)));
        Assert.Equal(AccessOutcome.Completed, m.Access(At(512), write: true, new FlushPlan()).Outcome);
        Assert.Equal(PageCategories.Written | PageCategories.Present | PageCategories.Huge, Cats(m, 1023));

        m.Map(At(1024), 512 * Page, Backing.File, MemoryProtection.ReadWrite); // its own memfd: never joins
        m.Map(At(1536), 256 * Page, Backing.Anon, MemoryProtection.Read, hugePageHint: true);
        m.Map(At(1792), 256 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        Assert.Equal(AccessOutcome.Completed, m.Access(At(1792), write: true, new FlushPlan()).Outcome);
        Assert.Equal(PageCategories.Written | PageCategories.Present, Cats(m, 1792)); // two VMAs in the extent: no THP
        m.Protect(At(1536), 256 * Page, MemoryProtection.ReadWrite, new FlushPlan()); // now compatible: they merge
        m.Zap(At(1536), 512 * Page, new FlushPlan());
        Assert.Equal(AccessOutcome.Completed, m.Access(At(1600), write: true, new FlushPlan()).Outcome);
        Assert.Equal(PageCategories.Written | PageCategories.Present | PageCategories.Huge, Cats(m, 2047));
    }

    /// <summary>
    /// anon_vma_prepare only gives a VMA an anon_vma when it has none: a later fault in a part
    /// split off by a partial register keeps the anon_vma it inherited, so the parts merge again
    /// at unregister (Linux 6.18: one VMA in /proc/self/maps after this sequence). One VMA over
    /// the whole extent lets the zap free its page table.
    /// </summary>
    [Fact]
    public void APartSplitOffByRegister_KeepsItsAnonVmaThroughAFault_AndMergesBack()
    {
        using var m = new MemoryModel();
        m.Map(Base, 512 * Page, Backing.Anon, MemoryProtection.ReadWrite);
        m.Access(At(0), write: true, new FlushPlan());
        m.RegisterWriteProtect(At(0), 256 * Page, new FlushPlan());
        m.Access(At(300), write: true, new FlushPlan()); // the unregistered part faults: no neighbour it could share with
        m.Unregister(At(0), 256 * Page, new FlushPlan());
        long tables = m.TablesInUse;
        m.Zap(At(0), 512 * Page, new FlushPlan());
        Assert.Equal(tables - 1, m.TablesInUse);
    }

    [Fact]
    public void SplitOfAProtNoneHugeZeroPage_KeepsZeroPageEntries()
    {
        using var m = new MemoryModel();
        m.Map(Base, 512 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Access(At(0), write: false, new FlushPlan());
        m.Protect(At(0), 512 * Page, MemoryProtection.None, new FlushPlan());
        Assert.Equal(PageCategories.Written | PageCategories.Present | PageCategories.PfnZero | PageCategories.Huge, Cats(m, 3));
        m.Protect(At(0), Page, MemoryProtection.Read, new FlushPlan()); // the VMA edge splits the huge zero page
        Assert.Equal(PageCategories.Written | PageCategories.Present | PageCategories.PfnZero, Cats(m, 0));
        Assert.Equal(PageCategories.Written | PageCategories.Present | PageCategories.PfnZero, Cats(m, 3));
        Assert.Equal(AccessOutcome.SegmentationFault, m.Access(At(3), write: false, new FlushPlan()).Outcome);
        Assert.Equal(AccessOutcome.Completed, m.Access(At(0), write: false, new FlushPlan()).Outcome);
    }

    [Fact]
    public void ScanWp_OfAPartlyCoveredHugePage_StartsANewRunWhereTheHugeRunWasTakenBack()
    {
        using var m = new MemoryModel(UffdFeatures.WpAsync);
        m.Map(Base, 1024 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.RegisterWriteProtect(Base, 1024 * Page, new FlushPlan());
        m.Access(At(1), write: true, new FlushPlan());
        m.Access(At(512), write: true, new FlushPlan());
        var all = new PagemapScanRequest(Return: PageCategories.All, WriteProtectMatching: true);
        var r = m.ScanAll(At(1), At(513), all);
        var cats = PageCategories.WpAllowed | PageCategories.Written | PageCategories.Present;
        Assert.Equal([new PageRegion(At(1), At(512), cats), new PageRegion(At(512), At(513), cats)], r);

        // When return= hides huge, the huge run extended the run before it: no break.
        using var n = new MemoryModel(UffdFeatures.WpAsync);
        n.Map(Base, 1024 * Page, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        n.RegisterWriteProtect(Base, 1024 * Page, new FlushPlan());
        n.Access(At(0), write: true, new FlushPlan());
        n.Access(At(512), write: true, new FlushPlan());
        var written = all with { Return = PageCategories.Written };
        Assert.Equal([new PageRegion(At(0), At(513), PageCategories.Written)], n.ScanAll(At(0), At(513), written));
    }
}
