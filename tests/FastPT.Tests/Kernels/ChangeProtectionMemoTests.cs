using FastPT.Entries;
using FastPT.Kernels;
using Xunit;

namespace FastPT.Tests.Kernels;

/// <summary>
/// The memoised fast path of the change-protection kernels (uniform vectors) against the
/// scalar twin: runs built from blocks of one entry pattern whose lanes differ in a chosen
/// set of bits (the pass bits, one random bit, or random bits), with the memo carried from
/// run to run as a walk carries it, for every parameter combination.
/// </summary>
public unsafe class ChangeProtectionMemoTests
{
    private static ulong[] UniformBlocks(Random r, int count)
    {
        var run = new ulong[count];
        ulong[] bases = [KernelTestData.Entry(r), KernelTestData.Entry(r), 0x1234_5000 | PgProt.Shared | Pte.Dirty, 0, PteMarker.UffdWp];
        for (int i = 0; i < count;)
        {
            ulong e = bases[r.Next(bases.Length)];
            ulong vary = r.Next(4) switch
            {
                0 => ChangeProtectionMemo.PresentPassBits,
                1 => 1UL << r.Next(64),
                2 => (ulong)r.NextInt64() & (ulong)r.NextInt64(),
                _ => 0,
            };
            int len = r.Next(4) == 0 ? r.Next(1, 8) : 8 * r.Next(1, 9);
            for (int k = 0; k < len && i < count; k++, i++)
                run[i] = e ^ ((ulong)r.NextInt64() & vary) ^ (r.Next(64) == 0 ? 1UL << r.Next(64) : 0);
        }
        return run;
    }

    [Fact]
    public void MemoisedRunsMatchTheScalarTwinAcrossRuns()
    {
        var r = new Random(KernelTestData.Seed + 20);
        int rounds = KernelTestData.Count(3);
        foreach (var isa in KernelTestData.Isas)
        {
            foreach (var p in KernelTestData.AllParams())
            {
                var memo = default(ChangeProtectionMemo);
                for (int round = 0; round < rounds; round++)
                {
                    int count = r.Next(3) == 0 ? r.Next(0, 513) : 512;
                    int offset = r.Next(3) == 0 ? r.Next(0, 8) : 0;
                    var input = UniformBlocks(r, count);
                    var expected = new ulong[count + 8];
                    var actual = new ulong[count + 8];
                    input.CopyTo(expected, offset);
                    input.CopyTo(actual, offset);
                    var ef = new ulong[8];
                    var af = new ulong[8];
                    long e, a;
                    fixed (ulong* pe = expected, pa = actual)
                    {
                        e = ChangeProtectionKernels.Scalar(pe + offset, count, p, ef);
                        a = ChangeProtectionKernels.Apply<ExclusiveTables>(isa, pa + offset, count, p, af, ref memo);
                    }
                    for (int i = 0; i < count; i++)
                    {
                        if (expected[offset + i] != actual[offset + i])
                            Assert.Fail($"{isa} prot=0x{p.NewProt:X} flags={p.Flags} markers={p.UseMarkers} w={p.VmaWritable} s={p.VmaShared} u={p.VmaUffdWp} round {round} entry {i}: "
                                + $"input 0x{input[i]:X} expected 0x{expected[offset + i]:X} got 0x{actual[offset + i]:X} (memo mask 0x{memo.Mask:X} value 0x{memo.Value:X})");
                    }
                    Assert.Equal(e, a);
                    Assert.Equal(ef, af);
                }
            }
        }
    }

    [Fact]
    public void PresentMemoPassesOnlyBitsTheRuleNeitherReadsNorWrites()
    {
        // A written shared page under uffd-wp protect: the memo keeps the PFN and A bits
        // of each lane and replaces everything else with the rule's answer.
        var p = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true);
        ulong e = 0x1234_5000 | PgProt.Shared | Pte.Dirty;
        var m = ChangeProtectionMemo.For(e, p);
        Assert.Equal(ChangeProtectionMemo.PresentPassBits, m.Pass);
        Assert.Equal(ChangeProtectionRule.Apply(e, p, out _) & ~m.Pass, m.Out);
        Assert.True(m.Counted && m.Writes && m.Flush);
        Assert.Equal(0UL, m.Pass & (Pte.Present | Pte.Writable | Pte.Dirty | Pte.SavedDirty | Pte.UffdWp | Pte.Special | Pte.ProtNone));
        // Non-present entries and newprots without P are memoised exactly.
        Assert.Equal(0UL, ChangeProtectionMemo.For(0, p).Pass);
        Assert.Equal(PteMarker.UffdWp, ChangeProtectionMemo.For(0, p).Out);
        Assert.Equal(0UL, ChangeProtectionMemo.For(e, ChangeProtectionParams.Mprotect(PgProt.None, false, true)).Pass);
    }
}
