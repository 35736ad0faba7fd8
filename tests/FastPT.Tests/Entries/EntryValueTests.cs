using FastPT.Entries;
using Xunit;

namespace FastPT.Tests.Entries;

/// <summary>C#-level checks the golden file cannot express: typed kinds and composed flows.</summary>
public class EntryValueTests
{
    [Fact]
    public void MarkerConstantsAreTheEncodedMarkers()
    {
        Assert.Equal(PteMarker.UffdWp, PteMarker.Make(PteMarker.UffdWpBit));
        Assert.Equal(PteMarker.Poisoned, PteMarker.Make(PteMarker.PoisonedBit));
        Assert.Equal(PteMarker.Guard, PteMarker.Make(PteMarker.GuardBit));
        Assert.Equal(31, SwapEntry.Type(PteMarker.UffdWp));
        Assert.Equal(1UL, SwapEntry.Offset(PteMarker.UffdWp));
    }

    [Fact]
    public void SwapMakeRejectsBadInputWithTheParameterName()
    {
        var t = Assert.Throws<ArgumentOutOfRangeException>(() => SwapEntry.Make(32, 0));
        Assert.Equal("type", t.ParamName);
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => SwapEntry.Make(0, 1UL << 50));
        Assert.Equal("offset", o.ParamName);
    }

    [Fact]
    public void MappingRightsGiveTheKernelsPageProtections()
    {
        // vm_get_page_prot without exec: shared writable mappings are RW, private ones never (COW).
        Assert.Equal(
            [PgProt.None, PgProt.ReadOnly, PgProt.Shared, PgProt.Shared],
            new[] { PgProt.ForShared(false, false), PgProt.ForShared(true, false), PgProt.ForShared(false, true), PgProt.ForShared(true, true) });
        Assert.Equal(
            [PgProt.None, PgProt.Copy, PgProt.Copy, PgProt.Copy],
            new[] { PgProt.ForPrivate(false, false), PgProt.ForPrivate(true, false), PgProt.ForPrivate(false, true), PgProt.ForPrivate(true, true) });
    }

    [Fact]
    public void AnEntrysFrameIgnoresFlagsAndTheBitsAboveTheAddress()
    {
        ulong e = Pte.NoExecute | (0xBUL << Pte.PkeyShift) | 0x000F_FFFF_FFFF_F000 | Pte.SoftDirty | 0xFFF;
        Assert.Equal(0xFF_FFFF_FFFFUL, Pte.Pfn(e));
        Assert.Equal(0x000F_FFFF_FFFF_F000UL, Pte.PhysicalAddress(e));
        Assert.Equal(0x12345UL, Pte.Pfn(L1tf.PfnEntry(0x12345, PgProt.Shared)));
        Assert.Equal(0xB, Pte.ProtectionKey(e));
        Assert.Equal(3, Pte.ProtectionKey(Pte.WithProtectionKey(e, 3)));
        Assert.Equal(e & ~Pte.PkeyMask, Pte.WithProtectionKey(e, 0));
    }

    [Fact]
    public void UffdWpWriteFaultFlowOnASharedPage()
    {
        // A writable dirty shared page is write-protected, then unprotected and written again.
        ulong pte = L1tf.PfnEntry(0x12345, PgProt.Shared) | Pte.Accessed | Pte.Dirty;
        Assert.Equal(0x8000_0000_1234_5067UL, pte);
        ulong wp = LinuxPte.MkUffdWp(pte);
        Assert.Equal(0x8400_0000_1234_5425UL, wp);
        Assert.True(LinuxPte.IsDirty(wp));
        Assert.False(LinuxPte.IsWritable(wp));
        // Resolve: clear bit 10 only; RW comes back through mkwrite, and with it D.
        ulong resolved = LinuxPte.MkWrite(LinuxPte.ClearUffdWp(wp));
        Assert.Equal(pte, resolved);
    }

    [Fact]
    public void ProtNoneRoundTripThroughModifyKeepsTheFrame()
    {
        ulong pte = L1tf.PfnEntry(0x1234, PgProt.ReadOnly) | Pte.Accessed;
        ulong none = LinuxPte.Modify(pte, PgProt.None);
        Assert.Equal(0x000F_FFFF_FEDC_B120UL, none);
        Assert.Equal(L1tf.PfnEntry(0x1234, PgProt.None), none);
        Assert.True(LinuxPte.IsProtNone(none));
        Assert.Equal(EntryKind.Present, LinuxPte.Classify(none));
        Assert.Equal(pte, LinuxPte.Modify(none, PgProt.ReadOnly));
    }

    [Fact]
    public void NoneIgnoresOnlyAccessedAndDirty()
    {
        for (int bit = 0; bit < 64; bit++)
        {
            ulong v = 1UL << bit;
            Assert.Equal(bit is 5 or 6, LinuxPte.IsNone(v));
        }
    }

    [Fact]
    public void ProtectionKeyHelpers()
    {
        ulong v = Pte.WithProtectionKey(0x8000_0000_1234_5027, 0xB);
        Assert.Equal(0x8000_0000_1234_5027UL | (0xBUL << 59), v);
        Assert.Equal(0xB, Pte.ProtectionKey(v));
        Assert.Equal(0x8000_0000_1234_5027UL, Pte.WithProtectionKey(v, 0));
    }
}
