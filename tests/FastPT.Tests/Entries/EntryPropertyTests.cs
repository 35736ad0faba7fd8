using CsCheck;
using FastPT.Entries;
using Xunit;

namespace FastPT.Tests.Entries;

/// <summary>
/// Properties of the entry functions over the full 64-bit range. Expected values are
/// derived here from the fact sheet's bit rules, never by calling the code under test.
/// </summary>
public class EntryPropertyTests
{
    private static readonly long Iter = PropertyRuns.Iter(20_000);

    private const ulong P = 1, RW = 2, D = 0x40, ProtNone = 0x100, Saved = 1UL << 58;
    private const ulong Frame = 0x000F_FFFF_FFFF_F000;
    private const ulong Chg = 0x060F_FFFF_FFFF_FEF8;

    private static readonly Gen<int> SwapType = Gen.Int[0, 31];
    private static readonly Gen<ulong> SwapOffset = Gen.ULong[0, (1UL << 50) - 1];
    private static readonly Gen<ulong> FlagBits = Gen.ULong[0, 7].Select(f => f << 1);

    /// <summary>Random entries biased toward interesting bits: full-range values, and pgprot-like ones.</summary>
    private static readonly Gen<ulong> Entry = Gen.Frequency(
        (3, Gen.ULong),
        (2, Gen.Select(Gen.ULong, Gen.ULong).Select((a, b) => a & b)),                 // sparse bits
        (2, Gen.Select(Gen.ULong[0, (1UL << 40) - 1], Gen.ULong[0, 0xFFF], Gen.ULong[0, 0x3F])
                .Select((pfn, low, high) => (pfn << 12 & Frame) | low | (high << 58))));

    private static readonly Gen<ulong> NewProt = Gen.Frequency(
        (2, Gen.OneOf(PgProt.None, PgProt.Shared, PgProt.SharedExec, PgProt.ReadOnly, PgProt.ReadOnlyExec)),
        (1, Gen.ULong));

    [Fact]
    public void SwapRoundTripsForAllTypesAndOffsets() =>
        Gen.Select(SwapType, SwapOffset, FlagBits).Sample((type, offset, flags) =>
        {
            ulong v = SwapEntry.Make(type, offset);
            // Bits 0..8 are zero and never carry flags from Make.
            Assert.Equal(0UL, v & 0x1FF);
            Assert.Equal((ulong)type, v >> 59);
            // Bits 9..58 are the low 50 bits of ~offset.
            Assert.Equal(~offset & ((1UL << 50) - 1), (v >> 9) & ((1UL << 50) - 1));
            Assert.Equal(type, SwapEntry.Type(v | flags));
            Assert.Equal(offset, SwapEntry.Offset(v | flags));
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void DecodeIgnoresFlagBitsForAnyValue() =>
        Gen.Select(Gen.ULong, FlagBits).Sample((v, flags) =>
        {
            Assert.Equal(SwapEntry.Offset(v & ~0xEUL), SwapEntry.Offset(v | flags));
            Assert.Equal(SwapEntry.Type(v & ~0xEUL), SwapEntry.Type(v | flags));
            Assert.True(SwapEntry.Offset(v) <= SwapEntry.MaxOffset);
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void SwapEntriesAreNeverNoneNorPresent() =>
        Gen.Select(SwapType, SwapOffset, FlagBits).Sample((type, offset, flags) =>
        {
            ulong v = SwapEntry.Make(type, offset) | flags;
            Assert.False(LinuxPte.IsNone(v), $"0x{v:X} read as none");
            Assert.False(LinuxPte.IsPresent(v));
            Assert.False(LinuxPte.IsPmdPresent(v));
            Assert.Equal(type == 31 ? EntryKind.Marker : EntryKind.Swap, LinuxPte.Classify(v));
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void MarkersClassifyAsMarkerAndDecodeTheirBits() =>
        Gen.Select(Gen.ULong[1, (1UL << 50) - 1], FlagBits, Gen.ULong[0, 3]).Sample((bits, flags, ad) =>
        {
            ulong v = PteMarker.Make(bits) | flags | (ad << 5); // A/D garbage is allowed on non-present entries
            Assert.Equal(EntryKind.Marker, LinuxPte.Classify(v));
            Assert.True(PteMarker.IsMarker(v));
            Assert.Equal(bits, SwapEntry.Offset(v));
            Assert.Equal((bits & 1) != 0, PteMarker.IsUffdWp(v));
            Assert.Equal((bits & 2) != 0, PteMarker.IsPoisoned(v));
            Assert.Equal((bits & 4) != 0, PteMarker.IsGuard(v));
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void ClassificationMatchesTheBitRules() =>
        Entry.Sample(v =>
        {
            EntryKind expected =
                (v & ~0x60UL) == 0 ? EntryKind.None
                : (v & (P | ProtNone)) != 0 ? EntryKind.Present
                : v >> 59 == 31 ? EntryKind.Marker
                : EntryKind.Swap;
            Assert.Equal(expected, LinuxPte.Classify(v));
            Assert.Equal((v & 0x181) != 0, LinuxPte.IsPmdPresent(v));
            Assert.Equal((v & 0x101) == 0x100, LinuxPte.IsProtNone(v));
        }, iter: Iter, seed: PropertyRuns.Seed);

    /// <summary>An independent pte_modify: CHG bits from old, the rest from newprot, L1TF, saved-dirty.</summary>
    private static ulong ExpectedModify(ulong old, ulong newprot, ulong frame)
    {
        ulong v = 0;
        for (int bit = 0; bit < 64; bit++)
        {
            ulong m = 1UL << bit;
            v |= ((Chg & m) != 0 ? old : newprot) & m;
        }
        bool oldInverted = old != 0 && (old & P) == 0;
        bool newInverted = v != 0 && (v & P) == 0;
        if (oldInverted != newInverted)
            v ^= frame;
        bool rw = (v & RW) != 0;
        if ((old & RW) != 0 && !rw && (v & D) != 0)
            v = (v & ~D) | Saved;                       // never RW=0,D=1 from a writable entry
        else if ((old & RW) == 0 && rw && (v & Saved) != 0)
            v = (v & ~Saved) | D;                       // becoming writable: saved-dirty back to D
        else if ((old & RW) == 0 && rw)
            v &= ~Saved;
        return v;
    }

    [Fact]
    public void ModifyKeepsChangeMaskBitsAndTakesTheRestFromNewprot() =>
        Gen.Select(Entry, NewProt).Sample((old, prot) =>
        {
            ulong v = LinuxPte.Modify(old, prot);
            Assert.Equal(ExpectedModify(old, prot, Frame), v);
            // Outside PFN/D/saved-dirty everything is exactly old&CHG | prot&~CHG.
            ulong stable = ~(Frame | D | Saved);
            Assert.Equal(((old & Chg) | (prot & ~Chg)) & stable, v & stable);
            // The frame survives a change to a real pgprot (P or PROTNONE set; a pgprot of
            // 0 or only mask bits is not one Linux builds, and flips like 0 would there too).
            if (old != 0 && (prot & (P | ProtNone)) != 0)
                Assert.Equal(L1tf.Pfn(old), L1tf.Pfn(v));
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void ModifyHugeFlipsOnlyTheLargeFrame() =>
        Gen.Select(Entry, NewProt).Sample((old, prot) =>
        {
            Assert.Equal(ExpectedModify(old, prot, 0x000F_FFFF_FFE0_0000), LinuxPte.ModifyHuge(old, prot));
            Assert.Equal(ExpectedModify(old, prot, 0x000F_FFFF_C000_0000), LinuxPte.ModifyPud(old, prot));
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void WrprotectNeverLeavesWriteZeroDirtyOne() =>
        Entry.Sample(v =>
        {
            ulong w = LinuxPte.Wrprotect(v);
            Assert.Equal(0UL, w & RW);
            Assert.Equal(0UL, w & D);
            Assert.Equal(LinuxPte.IsDirty(v), LinuxPte.IsDirty(w));   // dirtiness is kept, in bit 58
            Assert.Equal(v & ~(RW | D | Saved), w & ~(RW | D | Saved));
            if ((v & D) != 0)
                Assert.NotEqual(0UL, w & Saved);
            // MkUffdWp = bit 10 + wrprotect
            Assert.Equal(w | 0x400, LinuxPte.MkUffdWp(v));
            Assert.Equal(v & ~0x400UL, LinuxPte.ClearUffdWp(v));
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void MkWriteRestoresDirtyFromSaved() =>
        Entry.Sample(v =>
        {
            ulong w = LinuxPte.MkWrite(v);
            Assert.NotEqual(0UL, w & RW);
            Assert.Equal(0UL, w & Saved);
            Assert.Equal((v & (D | Saved)) != 0, (w & D) != 0);
            Assert.Equal(v & ~(RW | D | Saved), w & ~(RW | D | Saved));
            // wrprotect then mkwrite: back to a writable entry with the same dirtiness
            ulong round = LinuxPte.MkWrite(LinuxPte.Wrprotect(v));
            Assert.Equal((v | RW) & ~Saved | ((v & (D | Saved)) != 0 ? D : 0), round);
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void MkDirtyAndMkClean() =>
        Entry.Sample(v =>
        {
            ulong d = LinuxPte.MkDirty(v);
            Assert.True(LinuxPte.IsDirty(d));
            Assert.NotEqual(0UL, d & 0x800);                           // soft-dirty
            if ((v & RW) == 0)
                Assert.Equal((0UL, Saved), (d & D, d & Saved));         // RW=0: D goes to bit 58
            else
                Assert.NotEqual(0UL, d & D);
            ulong c = LinuxPte.MkClean(d);
            Assert.False(LinuxPte.IsDirty(c));
            Assert.Equal(d & ~(D | Saved), c);
        }, iter: Iter, seed: PropertyRuns.Seed);

    [Fact]
    public void L1tfRoundTripsThePfn() =>
        Gen.Select(Gen.ULong[0, (1UL << 40) - 1], NewProt).Sample((pfn, prot) =>
        {
            // Present and PROT_NONE pgprots only: pfn_pte with a pgprot of 0 is not invertible
            // (Linux does not invert it, but pte_pfn of the non-zero result does).
            prot = (prot & P) != 0 ? prot : (prot & ~P) | ProtNone;
            ulong v = L1tf.PfnEntry(pfn, prot);
            Assert.Equal(pfn, L1tf.Pfn(v));
            Assert.Equal(prot & ~Frame, v & ~Frame);
            bool inverted = (prot & P) == 0 && prot != 0;
            Assert.Equal(inverted ? ~(pfn << 12) & Frame : pfn << 12, v & Frame);
        }, iter: Iter, seed: PropertyRuns.Seed);
}
