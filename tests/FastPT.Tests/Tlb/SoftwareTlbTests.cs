using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Memory;
using FastPT.Tlb;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Tlb;

/// <summary>
/// One test per rule of the software TLB. A hit is seen from outside by what a TLB is: after a
/// table edit nobody invalidated, it still gives the old translation, where a walk gives the new.
/// </summary>
public sealed unsafe class SoftwareTlbTests : IDisposable
{
    private const ulong Va = 0x7F00_0000_3000, Frame = 0x1234_5000, Other = 0x5678_9000;
    private const ulong Rw = Pte.Present | Pte.Writable | Pte.User | Pte.Accessed;
    private readonly GuardedGuestMemory _ram = new((0x10_0000, 64));
    private readonly AddressSpace _space;
    private readonly SoftwareTlb _tlb;

    public SoftwareTlbTests()
    {
        _space = new AddressSpace(new GuestMemoryTableSource(_ram.Map, 0x10_0000, 64 * 4096));
        _space.Map(Va, Frame, PageSize.Size4K, Rw | Pte.Dirty);
        _tlb = new SoftwareTlb(_space, CpuMode.UserMode, entriesPerMode: 256);
    }

    public void Dispose() => _ram.Dispose();

    private ref ulong Pte1(ulong va) => ref _space.Entry(va, 1);

    private ulong Read(ulong va, AccessType access = AccessType.Read) => _tlb.Translate(va, access).PhysicalAddress;

    [Fact]
    public void AHitGivesWhatTheWalkGaveUntilItIsInvalidated()
    {
        Assert.Equal(Frame | 0x123, Read(Va | 0x123));
        Pte1(Va) = Other | Rw | Pte.Dirty;                     // edited, not invalidated
        Assert.Equal(Frame | 0x456, Read(Va | 0x456));           // a hit: the old frame
        Assert.Equal(Other | 0x456, _space.Translate(Va | 0x456, AccessType.Read, CpuMode.UserMode).PhysicalAddress);
        _tlb.InvalidatePage(Va | 0x789);
        Assert.Equal(Other | 0x456, Read(Va | 0x456));
    }

    [Fact]
    public void AHitSetsNoAccessedBitAsTheCpuSetsNone()
    {
        Read(Va);
        Pte1(Va) &= ~Pte.Accessed;                              // clearing A needs no flush (Linux's rule)
        Read(Va);
        Assert.Equal(0UL, Pte1(Va) & Pte.Accessed);
    }

    [Fact]
    public void WritesHitOnlyOnceTheLeafIsDirty()
    {
        Pte1(Va) &= ~Pte.Dirty;
        Read(Va);                                                // filled by a read: no write permission kept
        Assert.Equal(Frame, Read(Va, AccessType.Write));         // the write walks and sets D
        Assert.Equal(Pte.Dirty, Pte1(Va) & Pte.Dirty);
        Pte1(Va) = Other | Rw | Pte.Dirty;
        Assert.Equal(Frame, Read(Va, AccessType.Write));         // now a write hits
    }

    [Fact]
    public void FaultsAreNotKept()
    {
        Pte1(Va) &= ~Pte.Writable;
        _tlb.InvalidatePage(Va);
        Assert.Equal(PageFaultError.Present | PageFaultError.Write | PageFaultError.User, _tlb.Translate(Va, AccessType.Write).ErrorCode);
        Pte1(Va) |= Pte.Writable;                               // more permission: no flush owed
        Assert.True(_tlb.Translate(Va, AccessType.Write).Success);
        Pte1(Va) = 0;
        _tlb.InvalidatePage(Va);
        Assert.False(_tlb.Translate(Va, AccessType.Read).Success);
        Pte1(Va) = Frame | Rw;                                  // present now: no flush owed either
        Assert.True(_tlb.Translate(Va, AccessType.Read).Success);
    }

    [Fact]
    public void EachAccessKindIsCheckedOnItsOwn()
    {
        Pte1(Va) |= Pte.NoExecute;
        _tlb.InvalidatePage(Va);
        Assert.True(_tlb.Translate(Va, AccessType.Read).Success);
        Assert.Equal(PageFaultError.Present | PageFaultError.User | PageFaultError.InstructionFetch, _tlb.Translate(Va, AccessType.Execute).ErrorCode);
        Assert.Throws<ArgumentOutOfRangeException>(() => _tlb.Translate(Va, (AccessType)3));
    }

    [Fact]
    public void PrivilegeAndAcPickATableAndOtherModeChangesFlush()
    {
        Read(Va);                                                // the CPL-3 table holds Frame
        Pte1(Va) = Other | Rw | Pte.Dirty;
        _tlb.Mode = CpuMode.Supervisor;                          // the CPL-0 table: a miss, a walk
        Assert.Equal(Other, Read(Va));
        _tlb.Mode = CpuMode.UserMode;                            // the CPL-3 table kept its entry
        Assert.Equal(Frame, Read(Va));
        _tlb.Mode = CpuMode.UserMode with { WriteProtect = false }; // more than CPL changed: everything goes
        Assert.Equal(Other, Read(Va));
    }

    [Fact]
    public void SmapInForceIsItsOwnTable()
    {
        var smap = new CpuMode(User: false, Smap: true);
        _tlb.Mode = smap with { AlignmentCheck = true };         // STAC: supervisor may touch user pages
        Assert.True(_tlb.Translate(Va, AccessType.Read).Success);
        _tlb.Mode = smap;                                        // CLAC: SMAP applies again
        Assert.Equal(PageFaultError.Present, _tlb.Translate(Va, AccessType.Read).ErrorCode);
        _tlb.Mode = smap with { AlignmentCheck = true };
        Pte1(Va) = Other | Rw | Pte.Dirty;
        Assert.Equal(Frame, Read(Va));                           // the STAC table was kept across CLAC
        _tlb.Mode = smap with { AlignmentCheck = true, WriteProtect = false }; // any other change flushes
        Assert.Equal(Other, Read(Va));
    }

    [Fact]
    public void GlobalPagesSurviveCr3WritesOthersDoNot()
    {
        const ulong global = Va + 0x1000;
        _space.Map(global, Frame, PageSize.Size4K, Rw | Pte.Dirty | Pte.Global);
        Read(Va);
        Read(global);
        Pte1(Va) = Other | Rw;
        Pte1(global) = Other | Rw | Pte.Global;
        _tlb.WriteCr3(_space.Root);
        Assert.Equal(Other, Read(Va));
        Assert.Equal(Frame, Read(global));
        _tlb.InvalidatePage(global);                             // INVLPG drops global entries too
        Assert.Equal(Other, Read(global));
        Pte1(global) = Frame | Rw | Pte.Global;
        _tlb.GlobalPages = false;                                // a CR4.PGE toggle drops everything
        Assert.Equal(Frame, Read(global));
        Pte1(global) = Other | Rw | Pte.Global;
        _tlb.WriteCr3(_space.Root);                              // without PGE, G means nothing
        Assert.Equal(Other, Read(global));
    }

    [Fact]
    public void PcidsKeepTheirEntriesAcrossSwitchesUnlessTheWriteFlushes()
    {
        // Direct-mapped by page: the same page in two PCIDs shares a slot, so each PCID uses its own page here.
        const ulong va2 = Va + 0x1000;
        const ulong noFlush = 1UL << 63;
        _space.Map(va2, Frame, PageSize.Size4K, Rw | Pte.Dirty);
        _tlb.Pcide = true;
        _tlb.WriteCr3(_space.Root | 1);
        Assert.Equal(Frame, Read(Va));                           // PCID 1 keeps Va -> Frame
        _tlb.WriteCr3(_space.Root | 2);
        Assert.Equal(Frame, Read(va2));                          // PCID 2 keeps va2 -> Frame
        Pte1(Va) = Other | Rw | Pte.Dirty;
        Pte1(va2) = Other | Rw | Pte.Dirty;
        _tlb.WriteCr3(_space.Root | 1 | noFlush);                // back to 1, keeping its entries
        Assert.Equal(Frame, Read(Va));
        _tlb.WriteCr3(_space.Root | 2 | noFlush);
        Assert.Equal(Frame, Read(va2));
        _tlb.WriteCr3(_space.Root | 1);                          // to 1, flushing 1 only
        Assert.Equal(Other, Read(Va));
        _tlb.WriteCr3(_space.Root | 3);
        _tlb.InvalidatePcid(2);                                  // INVPCID single-context on another PCID
        _tlb.WriteCr3(_space.Root | 2 | noFlush);
        Assert.Equal(Other, Read(va2));
        Assert.Throws<ArgumentException>(() => _tlb.WriteCr3(0x9000_0000)); // an owned space has one root
    }

    [Fact]
    public void ContextsRunningOutFlushEverythingAndStayCorrect()
    {
        Read(Va);
        for (int i = 0; i < 5000; i++)
            _tlb.WriteCr3(_space.Root);
        Pte1(Va) = Other | Rw | Pte.Dirty;
        _tlb.WriteCr3(_space.Root);
        Assert.Equal(Other, Read(Va));
    }

    [Fact]
    public void InvalidatingOnePageOfAHugeTranslationDropsAllOfIt()
    {
        const ulong huge = 0x7F00_0020_0000, hugeFrame = 0x4000_0000;
        _space.Map(huge, hugeFrame, PageSize.Size2M, Rw | Pte.Dirty);
        for (ulong off = 0; off < 0x2_0000; off += 0x4000)        // eight pages in eight slots
            Assert.Equal(hugeFrame + off, Read(huge + off));
        _space.Entry(huge, 2) = 0x6000_0000 | Rw | Pte.Dirty | Pte.PageSize;
        _tlb.InvalidatePage(huge + 0x1F_F000);                  // the last page: the CPU drops the whole 2 MiB
        for (ulong off = 0; off < 0x2_0000; off += 0x4000)
            Assert.Equal(0x6000_0000 + off, Read(huge + off));
        Assert.Equal(PageSize.Size2M, _tlb.Translate(huge, AccessType.Read).Size);
    }

    [Fact]
    public void AVerbsFlushPlanIsExactlyWhatIsDropped()
    {
        for (int i = 0; i < 8; i++)
            _space.Map(Va + (ulong)i * 4096 + 0x1000, Frame + (ulong)i * 4096, PageSize.Size4K, Rw | Pte.Dirty);
        for (int i = 0; i < 8; i++)
            Read(Va + (ulong)i * 4096 + 0x1000, AccessType.Write);
        var flush = new FlushPlan();
        var r = PageTableOps.ChangeProtection(_space, Va + 0x3000, Va + 0x6000, ChangeProtectionParams.Mprotect(PgProt.ReadOnly, writable: false, shared: true), flush);
        Assert.Equal(3, r.EntriesChanged);
        // Before the plan is applied the TLB still allows the writes; afterwards exactly those fault.
        Assert.True(_tlb.Translate(Va + 0x4000, AccessType.Write).Success);
        _tlb.Invalidate(flush);
        for (int i = 0; i < 8; i++)
        {
            ulong va = Va + (ulong)i * 4096 + 0x1000;
            bool protectedNow = va >= Va + 0x3000 && va < Va + 0x6000;
            Assert.Equal(!protectedNow, _tlb.Translate(va, AccessType.Write).Success);
        }
    }

    [Fact]
    public void OutsideGuestMemoryIsNotKept()
    {
        const ulong hole = 0x9000_0000;
        ulong pdeVa = 0x7F00_4000_0000;
        _space.Map(pdeVa, Frame, PageSize.Size4K, Rw | Pte.Dirty);
        ref ulong pde = ref _space.Entry(pdeVa, 2);
        ulong good = pde;
        pde = hole | PgProt.Table;
        Assert.True(_tlb.Translate(pdeVa, AccessType.Read).OutsideGuestMemory);
        pde = good;                                              // back in RAM: no flush owed for what was never kept
        Assert.Equal(Frame, Read(pdeVa));
    }

    [Fact]
    public void ABatchThroughTheTlbIsSingleCallsInOrder()
    {
        var vas = new ulong[200];
        var rng = new Random(5);
        for (int i = 0; i < 16; i++)
            _space.Map(0x10_0000_0000 + (ulong)i * 4096, Frame + (ulong)i * 4096, PageSize.Size4K, Rw | (i % 3 == 0 ? Pte.NoExecute : 0));
        for (int i = 0; i < vas.Length; i++)
            vas[i] = 0x10_0000_0000 + (ulong)rng.Next(20) * 4096 + (ulong)rng.Next(4096);
        foreach (var access in new[] { AccessType.Read, AccessType.Write, AccessType.Execute })
        {
            var results = new TranslateResult[vas.Length];
            _tlb.Translate(vas, access, results);
            for (int i = 0; i < vas.Length; i++)
                Assert.Equal(_space.Translate(vas[i], access, _tlb.Mode, updateAccessedDirty: false), results[i]);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => _tlb.Translate([0x8000_0000_0000UL], AccessType.Read, new TranslateResult[1]));
    }
    [Fact]
    public void ASplitAtTheTopOfTheAddressSpaceIsFlushedUpToTheTop()
    {
        // The last 2 MiB leaf ends at 2^64, so its split's flush range ends at 0: the top, as
        // FlushRange documents and InvalidateRange reads it (found by the guest-tables fuzz target).
        const ulong top2M = 0xFFFF_FFFF_FFE0_0000, lastPage = 0xFFFF_FFFF_FFFF_F000, huge = 0x4000_0000;
        _space.Map(top2M, huge, PageSize.Size2M, Pte.Present | Pte.Writable | Pte.Accessed | Pte.Dirty);
        _tlb.Mode = CpuMode.Supervisor;
        Assert.Equal(huge + 0x1F_F000, Read(lastPage));                     // kept as a 2 MiB translation
        var flush = new FlushPlan();
        var r = PageTableOps.ChangeProtection(_space, top2M, top2M + 4096,
            ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: false), flush, splitHuge: true);
        Assert.Equal(1, r.HugeSplits);
        Assert.Equal(new FlushRange(top2M, 0), Assert.Single(flush.Ranges.ToArray()));
        Assert.Equal(2UL << 20, flush.Bytes);
        _space.Entry(lastPage, 1) = Other | Pte.Present | Pte.Accessed;      // the split gave the last page a PTE of its own
        _tlb.Invalidate(flush);
        Assert.Equal(Other, Read(lastPage));                                 // the 2 MiB translation went, up to the top
    }
}
