using CsCheck;
using FastPT.Entries;
using FastPT.Kernels;
using Xunit;

namespace FastPT.Tests.Kernels;

/// <summary>
/// Zap, written-page scan, A/D harvest, the write-protect bit moves and marker fill: every SIMD kernel against its scalar
/// twin in both write modes, on crafted and full-range entries, every length 0..512, with
/// sentinels on both sides of the run.
/// </summary>
public unsafe class KernelTwinTests
{
    private const int Pad = 16;

    /// <summary>A kernel under test: (isa, shared, entries, count, byte outputs, bit outputs A, bit outputs B) -> result.</summary>
    private delegate long Kernel(KernelIsa isa, bool shared, ulong* entries, int count, Span<byte> bytes, Span<ulong> bitsA, Span<ulong> bitsB);

    private static void Check(string name, Kernel kernel, KernelIsa isa, bool shared, ReadOnlySpan<ulong> input, int offset)
    {
        int count = input.Length;
        var expected = new ulong[Pad + offset + count + Pad];
        Array.Fill(expected, KernelTestData.Sentinel);
        input.CopyTo(expected.AsSpan(Pad + offset));
        var actual = (ulong[])expected.Clone();
        byte[] eb = new byte[2 * count + Pad], ab = new byte[2 * count + Pad];
        Array.Fill(eb, (byte)0xA5);
        Array.Fill(ab, (byte)0xA5);
        Span<ulong> ea = stackalloc ulong[8], eB = stackalloc ulong[8], aa = stackalloc ulong[8], aB = stackalloc ulong[8];
        long e, a;
        fixed (ulong* pe = expected, pa = actual)
        {
            e = kernel(KernelIsa.Scalar, false, pe + Pad + offset, count, eb, ea, eB);
            a = kernel(isa, shared, pa + Pad + offset, count, ab, aa, aB);
        }
        for (int i = 0; i < expected.Length; i++)
        {
            int at = i - Pad - offset;
            if (expected[i] != actual[i])
                Assert.Fail($"{name} {isa} shared={shared} count={count}: slot {at}: input 0x{(at >= 0 && at < count ? input[at] : KernelTestData.Sentinel):X} expected 0x{expected[i]:X} got 0x{actual[i]:X}");
        }
        string what = $"{name} {isa} shared={shared} count={count} offset={offset}";
        Assert.True(e == a, $"{what}: returned {a}, the scalar twin {e}");
        Assert.True(eb.AsSpan().SequenceEqual(ab), $"{what}: byte outputs differ at {eb.AsSpan().CommonPrefixLength(ab)}");
        Assert.True(ea.SequenceEqual(aa), $"{what}: first bit outputs differ: {string.Join(",", aa.ToArray().Select(x => x.ToString("X")))} vs {string.Join(",", ea.ToArray().Select(x => x.ToString("X")))}");
        Assert.True(eB.SequenceEqual(aB), $"{what}: second bit outputs differ");
    }

    private static List<(string, Kernel)> Kernels()
    {
        var list = new List<(string, Kernel)>();
        foreach (var zp in new[] { new ZapParams(false, false), new ZapParams(false, true), new ZapParams(true, false), new ZapParams(true, true) })
            list.Add(($"zap {zp}", (isa, shared, e, c, b, f, _) => shared
                ? ZapKernels.Apply<SharedTables>(isa, e, c, zp, f)
                : ZapKernels.Apply<ExclusiveTables>(isa, e, c, zp, f)));
        foreach (var sp in ScanParamSets())
            list.Add(($"scan {sp}", (isa, shared, e, c, b, k, f) =>
            {
                long n;
                fixed (byte* words = b)
                {
                    n = shared
                        ? ScanKernels.Apply<SharedTables>(isa, e, c, sp, (ushort*)words, k, f)
                        : ScanKernels.Apply<ExclusiveTables>(isa, e, c, sp, (ushort*)words, k, f);
                    // Categories are defined for kept entries only.
                    for (int i = 0; i < c; i++)
                        if ((k[i >> 6] >> (i & 63) & 1) == 0)
                            ((ushort*)words)[i] = 0;
                }
                return n;
            }));
        foreach (var which in new[] { HarvestBit.Dirty, HarvestBit.Accessed })
            list.Add(($"harvest {which}", (isa, shared, e, c, b, h, f) => shared
                ? HarvestKernels.Harvest<SharedTables>(isa, e, c, which, h, f)
                : HarvestKernels.Harvest<ExclusiveTables>(isa, e, c, which, h, f)));
        // The raw-table write-protect and unprotect: R/W moves to bit 10 and back.
        foreach (var (from, to) in new[] { (Pte.Writable, Pte.UffdWp), (Pte.UffdWp, Pte.Writable) })
            list.Add(($"move 0x{from:X}->0x{to:X}", (isa, shared, e, c, b, h, f) => shared
                ? HarvestKernels.Move<SharedTables>(isa, e, c, from, to, h, f)
                : HarvestKernels.Move<ExclusiveTables>(isa, e, c, from, to, h, f)));
        return list;
    }

    /// <summary>Scan parameters that reach every lane select: VMA and normal-page categories, empty-is-written, soft-dirty, the zero page, each filter and WP_MATCHING.</summary>
    private static IEnumerable<ScanParams> ScanParamSets()
    {
        var plain = new ScanParams();
        yield return plain;
        yield return plain with { EmptyIsWritten = true, WriteProtect = true, VmaCategories = PageCategories.WpAllowed };
        yield return plain with { NormalPageCategories = PageCategories.File, TrackSoftDirty = true, ZeroPfn = KernelTestData.ZeroPfn, WriteProtect = true };
        yield return plain with { Mask = PageCategories.Written, Return = PageCategories.Written, WriteProtect = true, EmptyIsWritten = true };
        yield return plain with { Mask = PageCategories.Written, Return = PageCategories.Written, WriteProtect = true, SkipCategories = true, VmaCategories = PageCategories.WpAllowed };
        yield return plain with { Mask = PageCategories.Written, Inverted = PageCategories.Written, ZeroPfn = KernelTestData.ZeroPfn };
        yield return plain with { AnyOf = PageCategories.Swapped | PageCategories.PfnZero, Return = PageCategories.Swapped | PageCategories.Guard, ZeroPfn = KernelTestData.ZeroPfn, WriteProtect = true };
        yield return plain with { Mask = PageCategories.Present, AnyOf = PageCategories.Written | PageCategories.SoftDirty, TrackSoftDirty = true, WriteProtect = true, VmaCategories = PageCategories.WpAllowed };
    }

    [Fact]
    public void EveryLength0To512WithSentinels()
    {
        var r = new Random(KernelTestData.Seed + 10);
        var kernels = Kernels().ToArray();
        foreach (var isa in KernelTestData.Isas)
        {
            for (int count = 0; count <= 512; count++)
            {
                var input = new ulong[count];
                KernelTestData.Fill(r, input);
                var (name, kernel) = kernels[count % kernels.Length];
                Check(name, kernel, isa, shared: (count & 1) != 0, input, count % 5);
            }
        }
    }

    [Fact]
    public void EveryKernelAndParamOnCraftedMixes()
    {
        var r = new Random(KernelTestData.Seed + 11);
        int[] lengths = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 300, 511, 512];
        foreach (var isa in KernelTestData.Isas)
            foreach (var (name, kernel) in Kernels())
                foreach (int count in lengths)
                {
                    var input = new ulong[count];
                    KernelTestData.Fill(r, input);
                    Check(name, kernel, isa, shared: false, input, count % 3);
                    Check(name, kernel, isa, shared: true, input, 0);
                }
    }

    [Fact]
    public void FullRangeRandomEntries()
    {
        var kernels = Kernels().ToArray();
        foreach (var isa in KernelTestData.Isas)
        {
            Gen.Select(Gen.ULong.Array[0, 512], Gen.Int[0, kernels.Length - 1], Gen.Bool).Sample((entries, k, shared) =>
                Check(kernels[k].Item1, kernels[k].Item2, isa, shared, entries, 0),
                iter: KernelTestData.Count(200), seed: Environment.GetEnvironmentVariable("CSCHECK_SEED"));
        }
    }

    [Fact]
    public void PageCategoriesMatchTheFactSheet()
    {
        // Anchors for the rule itself (the twins only agree with each other).
        var p = new ScanParams();
        Assert.Equal(PageCategories.Present | PageCategories.Written, ScanRule.Categorize(0x1000 | Pte.Present | Pte.Writable, p));
        Assert.Equal(PageCategories.Present, ScanRule.Categorize(0x1000 | Pte.Present | Pte.UffdWp, p));
        Assert.Equal(PageCategories.Swapped, ScanRule.Categorize(PteMarker.UffdWp, p));
        Assert.Equal(PageCategories.Swapped | PageCategories.Written | PageCategories.Guard, ScanRule.Categorize(PteMarker.Guard, p));
        Assert.Equal(PageCategories.Swapped, ScanRule.Categorize(SwapEntry.Make(1, 5) | SwapEntry.UffdWp, p));
        Assert.Equal(PageCategories.None, ScanRule.Categorize(0, p));
        Assert.Equal(PageCategories.Written, ScanRule.Categorize(0, p with { EmptyIsWritten = true }));
        Assert.Equal(PteMarker.UffdWp, ScanRule.MakeUffdWp(0));
        ulong wp = ScanRule.MakeUffdWp(0x1000 | Pte.Present | Pte.Writable | Pte.Dirty);
        Assert.Equal(0x1000 | Pte.Present | Pte.UffdWp | Pte.SavedDirty, wp);
    }

    [Fact]
    public void ZapFlushesEveryPresentEntryAndCountsThem()
    {
        ulong[] t = [0x1000 | Pte.Present | Pte.UffdWp, PteMarker.UffdWp, 0, L1tf.PfnEntry(7, PgProt.None), PteMarker.Guard, SwapEntry.Make(3, 9) | SwapEntry.UffdWp, 0x2000 | Pte.Present, 0, 0];
        foreach (var isa in KernelTestData.Isas)
        {
            var e = (ulong[])t.Clone();
            var flush = new ulong[8];
            fixed (ulong* p = e)
                Assert.Equal(3, ZapKernels.Apply<ExclusiveTables>(isa, p, e.Length, ZapParams.DontNeedFileUffdWp, flush));
            Assert.Equal(new ulong[] { PteMarker.UffdWp, PteMarker.UffdWp, 0, 0, PteMarker.Guard, PteMarker.UffdWp, 0, 0, 0 }, e);
            Assert.Equal(0b100_1001UL, flush[0]);
        }
    }

    /// <summary>
    /// The scan at named entries only (a rescan's pages changed since the last one) is the
    /// scalar rule at exactly those entries: the same values, kept and flush bits and reported
    /// categories there, and nothing read or written anywhere else (sentinels around the run).
    /// </summary>
    [Fact]
    public void ScanAtNamedEntriesIsTheRuleAtThoseEntriesAlone()
    {
        var r = new Random(KernelTestData.Seed + 12);
        int[] lengths = [1, 5, 63, 64, 65, 200, 507, 512];
        foreach (var sp in ScanParamSets())
            foreach (int count in lengths)
                foreach (bool shared in new[] { false, true })
                    for (int round = 0; round < 4; round++)
                    {
                        var input = new ulong[count];
                        KernelTestData.Fill(r, input);
                        var which = new ulong[(count + 63) / 64];
                        int density = r.Next(1, 5); // 1 in 2, 4, 8 or 16 entries named
                        for (int i = 0; i < count; i++)
                            if (r.Next(1 << density) == 0)
                                which[i >> 6] |= 1UL << (i & 63);
                        CheckScanAt(sp, shared, input, which);
                    }
    }

    private static void CheckScanAt(in ScanParams sp, bool shared, ulong[] input, ulong[] which)
    {
        int count = input.Length;
        bool Named(int i) => (which[i >> 6] >> (i & 63) & 1) != 0;
        // Expected: the scalar kernel over the whole run, then every entry not named put back.
        var expected = (ulong[])input.Clone();
        var eCats = new ushort[512];
        Span<ulong> eKept = stackalloc ulong[8], eFlush = stackalloc ulong[8];
        fixed (ulong* e = expected)
        fixed (ushort* c = eCats)
            ScanScalar.Apply<ExclusiveTables>(e, count, sp, c, eKept, eFlush);
        long expectedFound = 0;
        for (int i = 0; i < count; i++)
        {
            if (!Named(i))
            {
                expected[i] = input[i];
                eKept[i >> 6] &= ~(1UL << (i & 63));
                eFlush[i >> 6] &= ~(1UL << (i & 63));
            }
            else if ((eKept[i >> 6] >> (i & 63) & 1) != 0)
            {
                expectedFound++;
            }
        }
        var actual = new ulong[Pad + count + Pad];
        Array.Fill(actual, KernelTestData.Sentinel);
        input.CopyTo(actual, Pad);
        var aCats = new ushort[512];
        Span<ulong> aKept = stackalloc ulong[8], aFlush = stackalloc ulong[8];
        long found;
        fixed (ulong* a = actual)
        fixed (ushort* c = aCats)
            found = shared
                ? ScanScalar.ApplyAt<SharedTables>(a + Pad, which, sp, c, aKept, aFlush)
                : ScanScalar.ApplyAt<ExclusiveTables>(a + Pad, which, sp, c, aKept, aFlush);
        string what = $"scan-at {sp} shared={shared} count={count}";
        for (int i = 0; i < Pad; i++)
            Assert.True(actual[i] == KernelTestData.Sentinel && actual[Pad + count + i] == KernelTestData.Sentinel, $"{what}: wrote outside the run");
        for (int i = 0; i < count; i++)
            Assert.True(expected[i] == actual[Pad + i], $"{what}: entry {i} (named={Named(i)}) 0x{input[i]:X}: expected 0x{expected[i]:X} got 0x{actual[Pad + i]:X}");
        Assert.True(eKept.SequenceEqual(aKept), $"{what}: kept bits differ");
        Assert.True(eFlush.SequenceEqual(aFlush), $"{what}: flush bits differ");
        Assert.Equal(expectedFound, found);
        if (!sp.SkipCategories)
            for (int i = 0; i < count; i++)
                if ((eKept[i >> 6] >> (i & 63) & 1) != 0)
                    Assert.True(eCats[i] == aCats[i], $"{what}: entry {i} 0x{input[i]:X} reports 0x{aCats[i]:X}, the rule 0x{eCats[i]:X}");
    }
}
