using CsCheck;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Walk;

/// <summary>
/// FlushPlan.AddMask (whole-word and run-walking fast paths) against the definition: one
/// Add per run of set bits in each word, in order (Add merges a range with the last one it touches).
/// </summary>
public class FlushPlanMaskTests
{
    /// <summary>The definition: one Add per run of set bits within each 64-bit word, in order.</summary>
    private static FlushRange[] Reference(FlushRange[] before, ulong[][] masks, ulong[] vas)
    {
        var plan = new FlushPlan();
        foreach (var r in before)
            plan.Add(r.Start, r.End);
        for (int m = 0; m < masks.Length; m++)
            for (int w = 0; w < 8; w++)
                for (int bit = 0; bit < 64;)
                {
                    if ((masks[m][w] >> bit & 1) == 0)
                    {
                        bit++;
                        continue;
                    }
                    int end = bit;
                    while (end < 64 && (masks[m][w] >> end & 1) != 0)
                        end++;
                    ulong page = (ulong)(w * 64);
                    plan.Add(vas[m] + ((page + (ulong)bit) << 12), vas[m] + ((page + (ulong)end) << 12));
                    bit = end;
                }
        return plan.Ranges.ToArray();
    }

    private static readonly Gen<ulong> Word = Gen.OneOf(Gen.ULong, Gen.Const(0UL), Gen.Const(ulong.MaxValue),
        Gen.ULong.Select(x => x & (x >> 1)), Gen.Int[0, 63].Select(b => 1UL << b), Gen.Int[1, 63].Select(n => ulong.MaxValue >> n), Gen.Int[1, 63].Select(n => ulong.MaxValue << n));

    [Fact]
    public void AddMaskEqualsOneAddPerRunOfEachWord()
    {
        // Masks at consecutive, overlapping and descending VAs, after arbitrary earlier ranges.
        Gen.Select(Word.Array[8].Array[1, 4], Gen.Int[0, 3].Array[4], Gen.Int[0, 3]).Sample((masks, steps, pre) =>
        {
            var vas = new ulong[masks.Length];
            ulong va = 1UL << 30;
            for (int m = 0; m < masks.Length; m++)
            {
                vas[m] = va;
                va = steps[m] switch { 0 => va + (2UL << 20), 1 => va + (1UL << 20), 2 => va - (4UL << 20), _ => va + (64UL << 20) };
            }
            FlushRange[] before = pre switch
            {
                0 => [],
                1 => [new(vas[0] - 4096, vas[0])],
                2 => [new(vas[0], vas[0] + 3 * 4096)],
                _ => [new(vas[0] + (8UL << 20), vas[0] + (9UL << 20))],
            };
            var plan = new FlushPlan();
            foreach (var r in before)
                plan.Add(r.Start, r.End);
            for (int m = 0; m < masks.Length; m++)
                plan.AddMask(masks[m], vas[m]);
            Assert.Equal(Reference(before, masks, vas), plan.Ranges.ToArray());
        }, iter: Tests.Kernels.KernelTestData.Count(2000), seed: Environment.GetEnvironmentVariable("CSCHECK_SEED"));
    }

    [Fact]
    public void AddMaskGrowsPastTheInitialCapacity()
    {
        var plan = new FlushPlan();
        ulong[] alternating = [.. Enumerable.Repeat(0x5555_5555_5555_5555UL, 8)];
        for (int t = 0; t < 4; t++)
            plan.AddMask(alternating, (ulong)t << 21);
        Assert.Equal(4 * 256, plan.Count);
        Assert.Equal(new FlushRange(0, 4096), plan.Ranges[0]);
        Assert.Equal(new FlushRange((3UL << 21) + (510UL << 12), (3UL << 21) + (511UL << 12)), plan.Ranges[^1]);
    }
}
