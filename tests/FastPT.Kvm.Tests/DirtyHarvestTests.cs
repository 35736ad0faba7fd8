using FastPT.Kvm.Scenarios;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

public sealed class DirtyHarvestTests(ITestOutputHelper output)
{
    private static int Seed => int.Parse(Environment.GetEnvironmentVariable("FASTPT_KVM_SEED") ?? "7", System.Globalization.CultureInfo.InvariantCulture);

    [SkippableFact]
    public void LockstepHarvestEqualsEachRoundsWrites()
    {
        KvmFact.SkipIfUnavailable();
        var report = DirtyHarvestScenario.Run(Seed, lockstep: true, log: output.WriteLine);
        Assert.False(report.GuestTimedOut);
        Assert.Empty(report.RoundDifferences());
        Assert.Equal(report.WrittenUnion.Order(), report.HarvestedUnion.Order());
    }

    [SkippableFact]
    public void FreeRunningHarvestUnionEqualsWrittenPages()
    {
        KvmFact.SkipIfUnavailable();
        var report = DirtyHarvestScenario.Run(Seed + 1, rounds: 64, lockstep: false, log: output.WriteLine);
        Assert.True(report.Harvests.Count >= 8, $"only {report.Harvests.Count} harvests overlapped the guest's run");
        Assert.True(report.Harvests.Sum(h => h.Pages.Count) > report.WrittenUnion.Count, "no page was harvested twice: the guest never re-dirtied a cleared page during the run");
        Assert.Equal(report.WrittenUnion.Order(), report.HarvestedUnion.Order());
    }

    /// <summary>
    /// Evidence for docs/kvm.md: without the VMM's sweep KVM keeps writable shadow entries for
    /// pages whose D the host cleared, so re-written pages go unseen in later rounds.
    /// </summary>
    [SkippableFact]
    public void WithoutTheShadowSweepRewrittenPagesAreMissed()
    {
        KvmFact.SkipIfUnavailable();
        var report = DirtyHarvestScenario.Run(Seed, lockstep: true, flushShadow: false, log: output.WriteLine);
        Assert.NotEmpty(report.RoundDifferences());
        Assert.All(report.RoundDifferences(), d => Assert.Equal(0, d.Extra));
    }
}
