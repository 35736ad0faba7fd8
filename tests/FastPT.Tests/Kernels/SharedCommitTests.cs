using FastPT.Entries;
using FastPT.Kernels;
using Xunit;

namespace FastPT.Tests.Kernels;

/// <summary>
/// Every kernel, every ISA, in shared mode against <see cref="RacingTables"/>: a walker sets
/// A/D in each present entry right before the kernel commits it. Whatever the kernel did must
/// equal the scalar rule applied to the entry as the walker left it (so nothing the walker set
/// is lost, and the retry branch after the failed compare-exchange computes counts, flushes,
/// categories and harvested bits from the new value), and every changed slot must have been
/// committed through the write mode (no plain store).
/// </summary>
public unsafe class SharedCommitTests
{
    private const int Pad = 8;

    private static readonly int[] Lengths = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 300, 511, 512];

    /// <summary>Random entries, with A and D cleared on half the present ones so the walker has something to set.</summary>
    internal static ulong[] Input(Random r, int count)
    {
        var input = new ulong[count];
        KernelTestData.Fill(r, input);
        for (int i = 0; i < count; i++)
            if ((input[i] & Pte.Present) != 0 && r.Next(2) == 0)
                input[i] &= ~(Pte.Accessed | Pte.Dirty);
        return input;
    }

    /// <summary>Runs one case racing and the scalar twin on the raced input; returns how many entries the walker raced.</summary>
    internal static int Check(IKernelCase k, KernelIsa isa, ulong[] input, int offset)
    {
        int count = input.Length;
        // What the racing run must equal: every entry the kernel commits starts as the walker left it.
        int raced = 0;
        var preRaced = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            preRaced[i] = k.Commits(input[i]) ? RacingTables.WalkerWrite(input[i]) : input[i];
            raced += preRaced[i] != input[i] ? 1 : 0;
        }
        var expected = new ulong[Pad + offset + count + Pad];
        Array.Fill(expected, KernelTestData.Sentinel);
        var actual = (ulong[])expected.Clone();
        preRaced.CopyTo(expected.AsSpan(Pad + offset));
        input.CopyTo(actual.AsSpan(Pad + offset));
        ushort[] eb = new ushort[count + Pad], ab = new ushort[count + Pad];
        Span<ulong> ea = stackalloc ulong[8], eB = stackalloc ulong[8], aa = stackalloc ulong[8], aB = stackalloc ulong[8];
        long e, a;
        fixed (ulong* pe = expected, pa = actual)
        {
            e = k.Run<ExclusiveTables>(KernelIsa.Scalar, pe + Pad + offset, count, eb, ea, eB);
            RacingTables.Forget(pa, actual.Length);
            a = k.Run<RacingTables>(isa, pa + Pad + offset, count, ab, aa, aB);
            string what = $"{k.Name} {isa} count={count} offset={offset}";
            for (int i = 0; i < expected.Length; i++)
            {
                int at = i - Pad - offset;
                if (expected[i] != actual[i])
                    Assert.Fail($"{what}: slot {at}: input 0x{(at >= 0 && at < count ? input[at] : KernelTestData.Sentinel):X}, expected 0x{expected[i]:X} (the rule on what the walker left), got 0x{actual[i]:X}");
            }
            Assert.True(e == a, $"{what}: result {a}, expected {e}");
            Assert.True(eb.AsSpan().SequenceEqual(ab), $"{what}: categories differ");
            Assert.True(ea.SequenceEqual(aa), $"{what}: first bit mask (flush / harvested) differs: expected {string.Join(',', ea.ToArray().Select(x => x.ToString("X")))}, got {string.Join(',', aa.ToArray().Select(x => x.ToString("X")))}");
            Assert.True(eB.SequenceEqual(aB), $"{what}: second bit mask (harvest flush) differs");
            RacingTables.AssertEveryChangeCommitted(what, input, pa + Pad + offset);
        }
        return raced;
    }

    [Fact]
    public void EveryKernelLosesNothingAWalkerSetsRightBeforeItsCommit()
    {
        var r = new Random(KernelTestData.Seed + 40);
        // Change protection: every flag set x VMA fact x newprot, each on one length; the other kernels on every length.
        var cases = KernelCases.All(KernelTestData.AllParams()).ToArray();
        foreach (var isa in KernelTestData.Isas)
        {
            var racedPerKind = new Dictionary<string, int>();
            for (int c = 0; c < cases.Length; c++)
            {
                var k = cases[c];
                string kind = k.Name.Split(' ')[0];
                IEnumerable<int> lengths = kind == "change-protection" ? [Lengths[c % Lengths.Length]] : Lengths;
                foreach (int count in lengths)
                {
                    int raced = Check(k, isa, Input(r, count), count % 3);
                    racedPerKind[kind] = racedPerKind.GetValueOrDefault(kind) + raced;
                }
            }
            // The retry branches ran: every kernel had entries whose first compare-exchange lost.
            foreach (string kind in new[] { "change-protection", "zap", "scan", "harvest" })
                Assert.True(racedPerKind.GetValueOrDefault(kind) > 20, $"{isa}: only {racedPerKind.GetValueOrDefault(kind)} raced entries for {kind}");
        }
    }

    [Fact]
    public void EveryLaneOfEveryVectorPositionRaces()
    {
        // All-present runs (the scan fast path, uniform change-protection vectors) where every
        // entry is raced, at every length and offset, so each lane of each vector width and
        // the overlapping tail take the retry path.
        var p = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true);
        var cases = KernelCases.All([p, ChangeProtectionParams.Mprotect(PgProt.ReadOnly, false, false)]).ToArray();
        foreach (var isa in KernelTestData.Isas)
            foreach (var k in cases)
                for (int count = 1; count <= 72; count++)
                {
                    var input = new ulong[count];
                    for (int i = 0; i < count; i++)
                        input[i] = ((ulong)(i + 1) << 12) | Pte.Present | Pte.Writable | Pte.User | (k is KernelCases.Harvest ? Pte.Accessed | Pte.Dirty : 0);
                    Check(k, isa, input, count % 4);
                }
    }
}
