using FastPT.Benchmarks.Runner;

namespace FastPT.Results.Tests.Bench;

/// <summary>
/// What `fastpt bench --json` promises about pairing: a ratio is written only for a baseline
/// timed in the same cycle, per repetition; every repetition is kept. (The steps here are
/// trivial; only the structure is asserted, never a timing.)
/// </summary>
public sealed class BenchRowTests
{
    [Fact]
    public void Steps_of_one_cycle_pair_by_repetition_and_keep_every_sample()
    {
        int resets = 0;
        var cycle = BenchSuite.TimeCycle(7, 1, [(() => Thread.SpinWait(50), () => resets++), (() => Thread.SpinWait(100), null)]);
        Assert.All(cycle, t => Assert.Equal(7, t.Samples.Count));
        Assert.True(resets >= 7 + 2, $"{resets} resets: every warm-up and timed repetition runs its reset");
        double[] ratios = cycle[0].RatiosTo(cycle[1])!;
        Assert.Equal(7, ratios.Length);
        for (int i = 0; i < 7; i++)
            Assert.Equal(cycle[0].Samples[i] / cycle[1].Samples[i], ratios[i], 12);
    }

    [Fact]
    public void A_baseline_timed_in_its_own_loop_gives_no_paired_ratio()
    {
        var cycle = BenchSuite.TimeCycle(3, 1, () => Thread.SpinWait(10), () => Thread.SpinWait(20));
        var alone = BenchSuite.Time(3, 1, () => Thread.SpinWait(20));
        Assert.Null(cycle[0].RatiosTo(alone));
        Assert.Null(alone.RatiosTo(cycle[1]));

        var row = new BenchResult("op", "Api", 1, cycle[0], Bare: cycle[1], Kernel: alone, Scalar: BenchSuite.Time(3, 1, () => { }));
        var v1 = row.ToOpResult();
        Assert.Equal(["bare"], v1.Ratios!.Keys);
        Assert.Equal(["bare", "kernel", "scalar"], v1.Baselines!.Keys.Order());
        Assert.Equal(cycle[0].Samples, v1.Samples);
        Assert.Equal("ns/page", v1.Unit);
        Assert.Equal("Api", v1.Api);
    }
}
