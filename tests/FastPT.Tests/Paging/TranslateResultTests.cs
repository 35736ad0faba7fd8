using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Paging;

/// <summary>
/// <see cref="TranslateResult"/> packs three kinds of answer into sixteen bytes; each part must
/// read back as it was made, and <see cref="CpuMode.FromRegisters"/> must take each bit from
/// its own register.
/// </summary>
public class TranslateResultTests
{
    private const PageFaultError AllErrors = PageFaultError.Present | PageFaultError.Write | PageFaultError.User
        | PageFaultError.Reserved | PageFaultError.InstructionFetch | PageFaultError.ProtectionKey;

    [Theory]
    [InlineData(PageSize.Size4K, 0)]
    [InlineData(PageSize.Size2M, 3)]
    [InlineData(PageSize.Size1G, 5)]
    public void EachPartReadsBackAsMade(PageSize size, int level)
    {
        var ok = new TranslateResult(true, 0xFFF_FFFF_F000, size, PageFaultError.None, 0);
        Assert.Equal((true, false, 0xFFF_FFFF_F000UL, size, PageFaultError.None, 0),
            (ok.Success, ok.OutsideGuestMemory, ok.PhysicalAddress, ok.Size, ok.ErrorCode, ok.FaultLevel));
        Assert.Equal(ok, TranslateResult.Ok(0xFFF_FFFF_F000, (int)size + 1));

        var fault = TranslateResult.Fault(AllErrors, level);
        Assert.Equal((false, false, 0UL, PageSize.Size4K, AllErrors, level),
            (fault.Success, fault.OutsideGuestMemory, fault.PhysicalAddress, fault.Size, fault.ErrorCode, fault.FaultLevel));
        Assert.Equal(fault, new TranslateResult(false, 0, PageSize.Size4K, AllErrors, level));
        Assert.Equal(PageFaultError.Write | PageFaultError.User, TranslateResult.Fault(PageFaultError.Write | PageFaultError.User).ErrorCode);
        Assert.Equal(0, TranslateResult.Fault(PageFaultError.Write).FaultLevel);

        var outside = TranslateResult.Outside(0x1_2345_6000, level);
        Assert.Equal((false, true, 0x1_2345_6000UL, PageFaultError.None, level),
            (outside.Success, outside.OutsideGuestMemory, outside.PhysicalAddress, outside.ErrorCode, outside.FaultLevel));
        Assert.NotEqual(outside, TranslateResult.Fault(PageFaultError.None, level));
    }

    [Fact]
    public void EachModeBitComesFromItsOwnRegister()
    {
        var none = CpuMode.FromRegisters(0, 0, 0, 0, cpl: 0);
        Assert.Equal(new CpuMode(User: false, WriteProtect: false, Nxe: false), none);
        Assert.Equal(none with { WriteProtect = true }, CpuMode.FromRegisters(CpuMode.Cr0Wp, 0, 0, 0, 0));
        Assert.Equal(none with { Nxe = true }, CpuMode.FromRegisters(0, 0, CpuMode.EferNxe, 0, 0));
        Assert.Equal(none with { Smep = true }, CpuMode.FromRegisters(0, CpuMode.Cr4Smep, 0, 0, 0));
        Assert.Equal(none with { Smap = true }, CpuMode.FromRegisters(0, CpuMode.Cr4Smap, 0, 0, 0));
        Assert.Equal(none with { ProtectionKeys = true }, CpuMode.FromRegisters(0, CpuMode.Cr4Pke, 0, 0, 0));
        Assert.Equal(none with { AlignmentCheck = true }, CpuMode.FromRegisters(0, 0, 0, CpuMode.RflagsAc, 0));
        Assert.Equal(none with { Pkru = 0xC }, CpuMode.FromRegisters(0, 0, 0, 0, 0, pkru: 0xC));
        Assert.Equal(none with { MaxPhysicalAddressBits = 46 }, CpuMode.FromRegisters(0, 0, 0, 0, 0, maxPhysicalAddressBits: 46));
        Assert.Equal(none with { NonLeafBit8Reserved = true }, CpuMode.FromRegisters(0, 0, 0, 0, 0, amd: true));
        Assert.Equal(none with { Pages1G = false }, CpuMode.FromRegisters(0, 0, 0, 0, 0, pages1G: false));
        // Other bits of the registers change nothing (CR4.LA57 is the walk's level count, not the mode's).
        Assert.Equal(none, CpuMode.FromRegisters(~CpuMode.Cr0Wp, ~(CpuMode.Cr4Smep | CpuMode.Cr4Smap | CpuMode.Cr4Pke), ~CpuMode.EferNxe, ~CpuMode.RflagsAc, 0));
        Assert.Equal(new CpuMode(User: true), CpuMode.UserMode);
        Assert.Equal(new CpuMode(User: false), CpuMode.Supervisor);
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuMode.FromRegisters(0, 0, 0, 0, cpl: -1));
        Assert.True(CpuMode.FromRegisters(0, 0, 0, 0, cpl: 3).User);
        Assert.False(CpuMode.FromRegisters(0, 0, 0, 0, cpl: 0).User);
    }
}
