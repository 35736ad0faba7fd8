using CsCheck;
using FastPT.Entries;
using FastPT.Kernels;
using Xunit;

namespace FastPT.Tests.Kernels;

/// <summary>Every SIMD change-protection kernel against the scalar twin, entry for entry.</summary>
public unsafe class ChangeProtectionKernelTests
{
    private const int Pad = 16;

    /// <summary>Runs one ISA and the scalar twin on copies of the same run; asserts identical results.</summary>
    private static void Check(KernelIsa isa, ReadOnlySpan<ulong> input, int offset, in ChangeProtectionParams p, bool shared)
    {
        int count = input.Length;
        var expected = new ulong[Pad + offset + count + Pad];
        var actual = new ulong[expected.Length];
        Array.Fill(expected, KernelTestData.Sentinel);
        input.CopyTo(expected.AsSpan(Pad + offset));
        expected.CopyTo(actual, 0);
        Span<ulong> expectedFlush = stackalloc ulong[8];
        Span<ulong> actualFlush = stackalloc ulong[8];
        long e, a;
        fixed (ulong* pe = expected, pa = actual)
        {
            e = ChangeProtectionKernels.Scalar(pe + Pad + offset, count, p, expectedFlush);
            a = shared
                ? ChangeProtectionKernels.Apply<SharedTables>(isa, pa + Pad + offset, count, p, actualFlush)
                : ChangeProtectionKernels.Apply<ExclusiveTables>(isa, pa + Pad + offset, count, p, actualFlush);
        }
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
                Assert.Fail($"{isa} shared={shared} count={count} offset={offset} prot=0x{p.NewProt:X} flags={p.Flags} markers={p.UseMarkers} w={p.VmaWritable} s={p.VmaShared} u={p.VmaUffdWp}: "
                    + $"slot {i - Pad - offset}: input 0x{(i - Pad - offset >= 0 && i - Pad - offset < count ? input[i - Pad - offset] : KernelTestData.Sentinel):X} expected 0x{expected[i]:X} got 0x{actual[i]:X}");
        }
        Assert.Equal(e, a);
        Assert.Equal(expectedFlush.ToArray(), actualFlush.ToArray());
    }

    [Fact]
    public void EveryLength0To512WithSentinels()
    {
        var r = new Random(KernelTestData.Seed);
        var ps = new[]
        {
            ChangeProtectionParams.UffdWriteProtect(FastPT.PgProt.Shared, true),
            ChangeProtectionParams.UffdUnprotect(FastPT.PgProt.Shared),
            ChangeProtectionParams.Mprotect(FastPT.PgProt.ReadOnly, false, true),
            ChangeProtectionParams.Mprotect(FastPT.PgProt.None, false, false),
        };
        foreach (var isa in KernelTestData.Isas)
        {
            for (int count = 0; count <= 512; count++)
            {
                var input = new ulong[count];
                KernelTestData.Fill(r, input);
                var p = ps[count % ps.Length];
                Check(isa, input, count % 3, p, shared: false);
                Check(isa, input, 0, p, shared: true);
            }
        }
    }

    [Fact]
    public void AllParamCombinationsOnAdversarialMixes()
    {
        var r = new Random(KernelTestData.Seed + 1);
        int[] lengths = [1, 2, 3, 5, 8, 9, 16, 17, 63, 64, 65, 200, 511, 512];
        foreach (var isa in KernelTestData.Isas)
        {
            int k = 0;
            foreach (var p in KernelTestData.AllParams())
            {
                int count = lengths[k++ % lengths.Length];
                var input = new ulong[count];
                KernelTestData.Fill(r, input);
                Check(isa, input, k % 7, p, shared: (k & 1) != 0);
            }
        }
    }

    [Fact]
    public void FullRangeRandomEntries()
    {
        var gen = Gen.Select(Gen.ULong.Array[0, 512], Gen.Int[0, KernelTestData.NewProts.Length - 1],
            Gen.Int[0, KernelTestData.FlagSets.Length - 1], Gen.Int[0, 15], Gen.ULong, Gen.Bool);
        foreach (var isa in KernelTestData.Isas)
        {
            gen.Sample((entries, prot, flags, b, randomProt, useRandomProt) =>
            {
                var p = new ChangeProtectionParams(useRandomProt ? randomProt : KernelTestData.NewProts[prot],
                    KernelTestData.FlagSets[flags], (b & 1) != 0, (b & 2) != 0, (b & 4) != 0, (b & 8) != 0);
                Check(isa, entries, 0, p, shared: (b & 1) != 0);
            }, iter: KernelTestData.Count(300), seed: Environment.GetEnvironmentVariable("CSCHECK_SEED"));
        }
    }

    [Fact]
    public void DispatchUsesTheSelectedIsa()
    {
        // Apply must agree with the explicit call for the process's ISA (and hence with scalar).
        var r = new Random(KernelTestData.Seed + 2);
        var input = new ulong[300];
        KernelTestData.Fill(r, input);
        var a = (ulong[])input.Clone();
        var b = (ulong[])input.Clone();
        var p = ChangeProtectionParams.UffdWriteProtect(FastPT.PgProt.Shared, true);
        Span<ulong> fa = stackalloc ulong[8], fb = stackalloc ulong[8];
        fixed (ulong* pa = a, pb = b)
        {
            Assert.Equal(ChangeProtectionKernels.Apply<ExclusiveTables>(KernelIsas.Selected, pa, 300, p, fa),
                ChangeProtectionKernels.Apply(pb, 300, p, fb));
        }
        Assert.Equal(a, b);
    }

    /// <summary>
    /// The raw-table helpers say what Linux's callers pass: unprotect resolves and may make the
    /// page writable again in a writable, shared, registered VMA (so a protect/unprotect pair
    /// gives a dirty shared page its R/W back); both uffd flags at once are refused.
    /// </summary>
    [Fact]
    public void TheUffdHelpersCarryLinuxsFlagsAndAPairRestoresWriteAccess()
    {
        var un = ChangeProtectionParams.UffdUnprotect(PgProt.Shared);
        Assert.Equal((true, false, true, false), (un.Resolve, un.Protect, un.TryWritable, un.UseMarkers));
        Assert.Equal((true, true, true), (un.VmaWritable, un.VmaShared, un.VmaUffdWp));
        var wp = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true);
        Assert.Equal((false, true, false, true), (wp.Resolve, wp.Protect, wp.TryWritable, wp.UseMarkers));

        ulong page = 0x1234_5000 | PgProt.Shared | Pte.Dirty;
        ulong protectedPage = ChangeProtectionRule.Apply(page, wp, out _);
        Assert.Equal(0UL, protectedPage & Pte.Writable);
        Assert.Equal(page, ChangeProtectionRule.Apply(protectedPage, un, out _));

        Assert.Contains("together", Assert.Throws<ArgumentException>(() =>
            new ChangeProtectionParams(PgProt.Shared, ChangeProtectionFlags.UffdWp | ChangeProtectionFlags.UffdWpResolve, false, true, true, true)).Message);
    }

    [Fact]
    public void IsaSelectionRejectsBadValuesClearly()
    {
        var e = Assert.Throws<InvalidOperationException>(() => KernelIsas.Select("sse9"));
        Assert.Contains("FASTPT_ISA='sse9'", e.Message);
        Assert.Contains("avx512, avx2, v128, scalar", e.Message);
        Assert.Equal(KernelIsa.Scalar, KernelIsas.Select("scalar"));
        Assert.Equal(KernelIsas.Available[0], KernelIsas.Select(null));
        Assert.Equal(KernelIsa.Scalar, KernelIsas.Available[^1]);
        foreach (var isa in Enum.GetValues<KernelIsa>())
        {
            if (KernelIsas.IsAvailable(isa))
                Assert.Equal(isa, KernelIsas.Select(KernelIsas.Name(isa).ToUpperInvariant()));
            else
                Assert.Contains("does not accelerate", Assert.Throws<InvalidOperationException>(() => KernelIsas.Select(KernelIsas.Name(isa))).Message);
        }
    }
}
