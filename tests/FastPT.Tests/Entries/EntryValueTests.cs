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
