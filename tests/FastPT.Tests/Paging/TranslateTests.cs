using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using Xunit;
using static FastPT.PageFaultError;

namespace FastPT.Tests.Paging;

/// <summary>One test per rule of the hardware walk (SDM vol. 3A 4.5-4.8, 6.15 #PF).</summary>
public sealed unsafe class TranslateTests : IDisposable
{
    private const ulong Va = 0x0000_1234_5678_9ABC;     // indices 36, 209, 179, 393; offset 0xABC
    private const ulong Page = 0x0000_0000_2345_6000;  // below 2^30: valid for any MAXPHYADDR used
    private readonly GuestSpace _guest = new();
    private readonly AddressSpace _space;

    public TranslateTests()
    {
        // Tables at guest-physical 0x100000.., so links stay below any MAXPHYADDR used here.
        _space = _guest.Space;
        _space.Map(Va & ~0xFFFUL, Page, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User);
    }

    public void Dispose() => _guest.Dispose();

    private static readonly CpuMode User = CpuMode.UserMode;
    private static readonly CpuMode Kernel = CpuMode.Supervisor;

    private ref ulong E(int level) => ref _space.Entry(Va, level);

    private ulong[] PathEntries(AddressSpace? space = null, ulong va = Va)
    {
        space ??= _space;
        var r = new List<ulong>();
        for (int l = space.Levels; l >= 1; l--)
        {
            ulong* p = space.TryGetEntry(va, l);
            if (p == null)
                break;
            r.Add(*p);
        }
        return [.. r];
    }

    private TranslateResult T(AccessType a, in CpuMode cpu) => _space.Translate(Va, a, cpu);

    private void AssertFault(PageFaultError expected, AccessType a, in CpuMode cpu)
    {
        ulong[] before = PathEntries();
        var r = T(a, cpu);
        Assert.False(r.Success, $"{a} with {cpu} succeeded; expected #PF 0x{(uint)expected:X}");
        Assert.Equal(expected, r.ErrorCode);
        Assert.Equal(before, PathEntries());              // no A/D change on a fault
    }

    private void AssertOk(AccessType a, in CpuMode cpu)
    {
        var r = T(a, cpu);
        Assert.True(r.Success, $"{a} with {cpu} faulted with 0x{(uint)r.ErrorCode:X}");
        Assert.Equal(Page | 0xABC, r.PhysicalAddress);
    }

    [Fact]
    public void SuccessGivesTheAddressAndSize()
    {
        var r = T(AccessType.Read, User);
        Assert.Equal(new TranslateResult(true, Page | 0xABC, PageSize.Size4K, None, 0), r);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)]
    [InlineData(2)]
    [InlineData(1)]
    public void NotPresentAtAnyLevelGivesPZeroWithAccessBits(int level)
    {
        E(level) &= ~Pte.Present;
        E(level) |= 0xFFF0_0000_0000_0000; // every other bit is ignored when P=0: no RSVD
        var cpu = User with { MaxPhysicalAddressBits = 36 };
        AssertFault(User_ | Write, AccessType.Write, cpu);
        AssertFault(PageFaultError.User, AccessType.Read, cpu);
        AssertFault(PageFaultError.User | InstructionFetch, AccessType.Execute, cpu);
        AssertFault(None, AccessType.Read, Kernel);
        AssertFault(Write, AccessType.Write, Kernel);
        Assert.Equal(level, T(AccessType.Read, Kernel).FaultLevel);
    }

    private const PageFaultError User_ = PageFaultError.User;

    [Fact]
    public void InstructionFetchBitOnlyWithNxeOrSmep()
    {
        E(1) &= ~Pte.Present;
        AssertFault(User_ | InstructionFetch, AccessType.Execute, User with { Nxe = true, Smep = false });
        AssertFault(User_ | InstructionFetch, AccessType.Execute, User with { Nxe = false, Smep = true });
        AssertFault(User_, AccessType.Execute, User with { Nxe = false, Smep = false });
        AssertFault(None, AccessType.Execute, Kernel with { Nxe = false });
    }

    [Theory]
    [InlineData(4, 40)]
    [InlineData(3, 45)]
    [InlineData(2, 39)]
    [InlineData(1, 51)]
    public void BitsAboveMaxPhyAddrAreReserved(int level, int bit)
    {
        var cpu = User with { MaxPhysicalAddressBits = 39 };
        AssertOk(AccessType.Read, cpu with { MaxPhysicalAddressBits = Math.Min(bit, 39) });
        E(level) |= 1UL << bit;
        var m52 = User with { MaxPhysicalAddressBits = 52 };
        if (level == 1)
        {
            // With M=52 bit 51 is an address bit: the walk succeeds, at another frame.
            Assert.True(T(AccessType.Read, m52).Success);
            AssertFault(User_ | PageFaultError.Present | Reserved, AccessType.Read, cpu);
            AssertFault(User_ | PageFaultError.Present | Reserved | Write, AccessType.Write, cpu);
            AssertFault(User_ | PageFaultError.Present | Reserved | InstructionFetch, AccessType.Execute, cpu);
            Assert.Equal(1, T(AccessType.Read, cpu).FaultLevel);
        }
        else
        {
            // A link with a high bit would point elsewhere at M=52; the reserved check stops the walk first.
            var r = T(AccessType.Read, cpu with { MaxPhysicalAddressBits = bit });
            Assert.Equal(User_ | PageFaultError.Present | Reserved, r.ErrorCode);
            Assert.Equal(level, r.FaultLevel);
        }
    }

    [Fact]
    public void PsInPml4eAndPml5eIsReserved()
    {
        E(4) |= Pte.PageSize;
        AssertFault(User_ | PageFaultError.Present | Reserved, AccessType.Read, User);
        E(4) &= ~Pte.PageSize;

        using var src = new NativeTableSource();
        using var five = new AddressSpace(src, 5);
        five.Map(0x1000, 0x1000, PageSize.Size4K, PgProt.SharedExec);
        five.Entry(0x1000, 5) |= Pte.PageSize;
        var r = five.Translate(0x1000, AccessType.Read, User);
        Assert.Equal((false, User_ | PageFaultError.Present | Reserved, 5), (r.Success, r.ErrorCode, r.FaultLevel));
        five.Entry(0x1000, 5) &= ~Pte.PageSize;
        Assert.True(five.Translate(0x1000, AccessType.Read, User).Success);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    [InlineData(20)]
    public void Bits13To20OfA2MLeafAreReserved(int bit)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x4000_0000, 0x20_0000, PageSize.Size2M, PgProt.SharedExec);
        space.Entry(0x4000_0000, 2) |= 1UL << bit;
        var r = space.Translate(0x4000_0000, AccessType.Read, User);
        Assert.Equal((false, User_ | PageFaultError.Present | Reserved, 2), (r.Success, r.ErrorCode, r.FaultLevel));
        // Bit 12 is PAT, not reserved; bit 21 is an address bit.
        space.Entry(0x4000_0000, 2) &= ~(1UL << bit);
        space.Entry(0x4000_0000, 2) |= Pte.PatLarge;
        Assert.Equal(0x20_0123UL, space.Translate(0x4000_0123, AccessType.Read, User).PhysicalAddress);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(21)]
    [InlineData(29)]
    public void Bits13To29OfA1GLeafAreReserved(int bit)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src);
        space.Map(0x80_0000_0000, 0x4000_0000, PageSize.Size1G, PgProt.SharedExec);
        space.Entry(0x80_0000_0000, 3) |= 1UL << bit;
        var r = space.Translate(0x80_0000_0000, AccessType.Write, User);
        Assert.Equal((false, User_ | Write | PageFaultError.Present | Reserved, 3), (r.Success, r.ErrorCode, r.FaultLevel));
        space.Entry(0x80_0000_0000, 3) &= ~(1UL << bit);
        space.Entry(0x80_0000_0000, 3) |= Pte.PatLarge;
        var ok = space.Translate(0x80_1234_5678, AccessType.Write, User);
        Assert.Equal((true, 0x4000_0000UL + 0x1234_5678, PageSize.Size1G), (ok.Success, ok.PhysicalAddress, ok.Size));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)]
    [InlineData(2)]
    [InlineData(1)]
    public void NxWithoutNxeIsReservedAtAnyLevel(int level)
    {
        E(level) |= Pte.NoExecute;
        AssertFault(User_ | PageFaultError.Present | Reserved, AccessType.Read, User with { Nxe = false });
        AssertOk(AccessType.Read, User with { Nxe = true });
        AssertFault(User_ | PageFaultError.Present | InstructionFetch, AccessType.Execute, User with { Nxe = true });
        AssertFault(PageFaultError.Present | InstructionFetch, AccessType.Execute, Kernel with { Nxe = true });
    }

    [Fact]
    public void SoftwareBitsAreNotReserved()
    {
        for (int l = 1; l <= 4; l++)
            E(l) |= 0x07F0_0000_0000_0E00UL | (l > 1 ? Pte.Global : 0); // 9-11, 52-58; G ignored in links on Intel
        E(1) |= Pte.Global | Pte.PkeyMask;
        AssertOk(AccessType.Read, User with { MaxPhysicalAddressBits = 40 });
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(3, false)]
    [InlineData(2, false)]
    public void AmdReservesBit8OnlyInPml4AndPml5Entries(int level, bool reserved)
    {
        E(level) |= Pte.Global;
        var amd = User with { NonLeafBit8Reserved = true };
        if (reserved)
            AssertFault(User_ | PageFaultError.Present | Reserved, AccessType.Read, amd);
        else
            AssertOk(AccessType.Read, amd);
        AssertOk(AccessType.Read, User);                  // Intel ignores it everywhere
    }

    [Fact]
    public void AmdBit8InALeafIsTheGlobalBit()
    {
        E(1) |= Pte.Global;
        AssertOk(AccessType.Read, User with { NonLeafBit8Reserved = true });
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)]
    [InlineData(2)]
    [InlineData(1)]
    public void SupervisorBitAtAnyLevelMakesASupervisorAddress(int level)
    {
        E(level) &= ~Pte.User;
        AssertFault(User_ | PageFaultError.Present, AccessType.Read, User);
        AssertFault(User_ | PageFaultError.Present | Write, AccessType.Write, User);
        AssertFault(User_ | PageFaultError.Present | InstructionFetch, AccessType.Execute, User);
        AssertOk(AccessType.Read, Kernel with { Smap = true, Smep = true });  // SMAP/SMEP do not apply
        AssertOk(AccessType.Write, Kernel with { Smap = true });
        AssertOk(AccessType.Execute, Kernel with { Smep = true });
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)]
    [InlineData(2)]
    [InlineData(1)]
    public void ReadOnlyAtAnyLevelBlocksWrites(int level)
    {
        E(level) &= ~Pte.Writable;
        AssertFault(User_ | PageFaultError.Present | Write, AccessType.Write, User);
        AssertFault(User_ | PageFaultError.Present | Write, AccessType.Write, User with { WriteProtect = false }); // WP is for CPL<3
        AssertOk(AccessType.Read, User);
        AssertFault(PageFaultError.Present | Write, AccessType.Write, Kernel with { WriteProtect = true });
        AssertOk(AccessType.Write, Kernel with { WriteProtect = false });
        Assert.NotEqual(0UL, E(1) & Pte.Dirty);            // the CR0.WP=0 write dirtied the page
    }

    [Fact]
    public void SmepBlocksSupervisorFetchesFromUserPages()
    {
        AssertFault(PageFaultError.Present | InstructionFetch, AccessType.Execute, Kernel with { Smep = true });
        AssertFault(PageFaultError.Present | InstructionFetch, AccessType.Execute, Kernel with { Smep = true, Nxe = false });
        AssertOk(AccessType.Execute, Kernel with { Smep = false });
        AssertOk(AccessType.Read, Kernel with { Smep = true });  // data accesses are not SMEP's business
        AssertOk(AccessType.Execute, User with { Smep = true }); // nor are user fetches
    }

    [Fact]
    public void SmapBlocksSupervisorDataAccessToUserPagesUnlessAc()
    {
        var smap = Kernel with { Smap = true };
        AssertFault(PageFaultError.Present, AccessType.Read, smap);
        AssertFault(PageFaultError.Present | Write, AccessType.Write, smap);
        AssertFault(PageFaultError.Present | Write, AccessType.Write, smap with { WriteProtect = false });
        AssertOk(AccessType.Read, smap with { AlignmentCheck = true });
        AssertOk(AccessType.Write, smap with { AlignmentCheck = true });
        AssertOk(AccessType.Execute, smap);                      // fetches are SMEP's, not SMAP's
        AssertOk(AccessType.Read, User with { Smap = true });    // user accesses unaffected
        E(1) &= ~Pte.Writable;
        AssertFault(PageFaultError.Present | Write, AccessType.Write, smap with { AlignmentCheck = true });
        AssertOk(AccessType.Write, smap with { AlignmentCheck = true, WriteProtect = false });
    }

    [Fact]
    public void NxBlocksFetchesOnly()
    {
        E(1) |= Pte.NoExecute;
        AssertFault(User_ | PageFaultError.Present | InstructionFetch, AccessType.Execute, User);
        AssertOk(AccessType.Read, User);
        AssertOk(AccessType.Write, User);
    }

    private static CpuMode Pk(CpuMode cpu, int key, bool ad, bool wd) =>
        cpu with { ProtectionKeys = true, Pkru = (ad ? 1u : 0) << (2 * key) | (wd ? 2u : 0) << (2 * key) };

    [Fact]
    public void PkruGuardsUserDataAccesses()
    {
        E(1) = Pte.WithProtectionKey(E(1), 5);
        AssertFault(User_ | PageFaultError.Present | ProtectionKey, AccessType.Read, Pk(User, 5, ad: true, wd: false));
        AssertFault(User_ | PageFaultError.Present | ProtectionKey | Write, AccessType.Write, Pk(User, 5, ad: true, wd: false));
        AssertFault(User_ | PageFaultError.Present | ProtectionKey | Write, AccessType.Write, Pk(User, 5, ad: false, wd: true));
        AssertFault(User_ | PageFaultError.Present | ProtectionKey | Write, AccessType.Write, Pk(User with { WriteProtect = false }, 5, false, true));
        AssertOk(AccessType.Read, Pk(User, 5, ad: false, wd: true));
        AssertOk(AccessType.Execute, Pk(User, 5, ad: true, wd: true));   // never for fetches
        AssertOk(AccessType.Read, Pk(User, 4, ad: true, wd: true));      // another key
        AssertOk(AccessType.Read, Pk(User, 5, true, true) with { ProtectionKeys = false }); // CR4.PKE=0
    }

    [Fact]
    public void PkruGuardsSupervisorAccessesToUserPagesWithWdOnlyUnderWp()
    {
        E(1) = Pte.WithProtectionKey(E(1), 15);
        AssertFault(PageFaultError.Present | ProtectionKey, AccessType.Read, Pk(Kernel, 15, ad: true, wd: false));
        AssertFault(PageFaultError.Present | ProtectionKey | Write, AccessType.Write, Pk(Kernel, 15, ad: false, wd: true));
        AssertOk(AccessType.Write, Pk(Kernel with { WriteProtect = false }, 15, ad: false, wd: true));
        AssertFault(PageFaultError.Present | ProtectionKey | Write, AccessType.Write, Pk(Kernel with { WriteProtect = false }, 15, ad: true, wd: false));
        AssertOk(AccessType.Execute, Pk(Kernel, 15, ad: true, wd: true));
        // Supervisor pages are not governed by PKRU.
        E(2) &= ~Pte.User;
        AssertOk(AccessType.Read, Pk(Kernel, 15, ad: true, wd: true));
        AssertOk(AccessType.Write, Pk(Kernel, 15, ad: true, wd: true));
    }

    [Fact]
    public void PkBitIsSetAlongsideOtherViolations()
    {
        E(1) = Pte.WithProtectionKey(E(1) & ~Pte.Writable, 3);
        // A write to a read-only page that PKRU also forbids: both, PK reported (as KVM does).
        AssertFault(User_ | PageFaultError.Present | Write | ProtectionKey, AccessType.Write, Pk(User, 3, ad: false, wd: true));
        // SMAP violation plus AD.
        AssertFault(PageFaultError.Present | ProtectionKey, AccessType.Read, Pk(Kernel with { Smap = true }, 3, ad: true, wd: false));
        // Without a PKRU denial the PK bit stays clear.
        AssertFault(User_ | PageFaultError.Present | Write, AccessType.Write, Pk(User, 3, ad: false, wd: false));
    }

    public static TheoryData<PageSize> Sizes() => [PageSize.Size4K, PageSize.Size2M, PageSize.Size1G];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void AccessedAtEveryLevelAndDirtyOnlyInTheLeafOnWrite(PageSize size)
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src, 5);
        ulong va = 0x00AB_C000_0000_0000UL;
        space.Map(va, 0x1_0000_0000, size, Pte.Present | Pte.Writable | Pte.User);
        int leaf = size.LeafLevel();
        // Map wrote links with A|D (0x67): clear them so the walk's updates show.
        for (int l = 5; l > leaf; l--)
            space.Entry(va, l) &= ~(Pte.Accessed | Pte.Dirty);
        ulong[] clean = PathEntries(space, va);

        Assert.True(space.Translate(va, AccessType.Read, User, updateAccessedDirty: false).Success);
        Assert.Equal(clean, PathEntries(space, va));

        Assert.True(space.Translate(va, AccessType.Read, User).Success);
        ulong[] afterRead = PathEntries(space, va);
        for (int i = 0; i < afterRead.Length; i++)
            Assert.Equal(clean[i] | Pte.Accessed, afterRead[i]);

        Assert.True(space.Translate(va + 8, AccessType.Write, User).Success);
        ulong[] afterWrite = PathEntries(space, va);
        for (int i = 0; i < afterWrite.Length - 1; i++)
            Assert.Equal(clean[i] | Pte.Accessed, afterWrite[i]);        // no D in links
        Assert.Equal(clean[^1] | Pte.Accessed | Pte.Dirty, afterWrite[^1]);

        Assert.True(space.Translate(va, AccessType.Execute, User).Success);
        Assert.Equal(afterWrite, PathEntries(space, va));                 // sticky, nothing new
    }

    [Fact]
    public void AFaultLeavesAAndDAlone()
    {
        for (int l = 4; l >= 1; l--)
            E(l) &= ~(Pte.Accessed | Pte.Dirty);
        E(1) &= ~Pte.Writable;
        AssertFault(User_ | PageFaultError.Present | Write, AccessType.Write, User); // checks no change
        E(1) &= ~Pte.Present;
        AssertFault(User_, AccessType.Read, User);
    }

    [Fact]
    public void NonCanonicalAddressIsAnArgumentError()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _space.Translate(0x0000_8000_0000_0000, AccessType.Read, User));
        Assert.Contains("#GP", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FiveLevelTranslationUsesBits48To56()
    {
        using var src = new NativeTableSource();
        using var space = new AddressSpace(src, 5);
        space.Map(0x00FF_0000_0000_0000, 0x1000, PageSize.Size4K, PgProt.Shared);
        space.Map(0x0001_0000_0000_0000, 0x2000, PageSize.Size4K, PgProt.Shared);
        Assert.Equal(0x1010UL, space.Translate(0x00FF_0000_0000_0010, AccessType.Read, User).PhysicalAddress);
        Assert.Equal(0x2010UL, space.Translate(0x0001_0000_0000_0010, AccessType.Read, User).PhysicalAddress);
        Assert.False(space.Translate(0x0000_0000_0000_0010, AccessType.Read, User).Success);
    }
}
