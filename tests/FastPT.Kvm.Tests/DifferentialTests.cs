using System.Globalization;
using FastPT.Kvm.Oracle;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

/// <summary>
/// FastPT's Translate against a KVM vCPU. CI: 4 seeds x 25,000 probes (100,000 in all, about
/// 10 s). FASTPT_KVM_SEED runs one chosen seed; FASTPT_KVM_PROBES sets the probes per seed.
/// </summary>
public sealed class DifferentialTests(ITestOutputHelper output)
{
    private static readonly int[] CiSeeds = [101, 202, 303, 404];

    private static int ProbesPerSeed => Env("FASTPT_KVM_PROBES") ?? 25_000;

    private static int[] Seeds => Env("FASTPT_KVM_SEED") is { } s ? [s] : CiSeeds;

    private static int? Env(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? int.Parse(v, CultureInfo.InvariantCulture) : null;

    [SkippableFact]
    public void TranslateAgreesWithKvmOnRandomAddressSpacesAndProbes()
    {
        KvmFact.SkipIfUnavailable();
        long probes = 0, mismatches = 0, supervisor = 0, faults = 0, reserved = 0, accessedDirty = 0;
        foreach (int seed in Seeds)
        {
            var report = DifferentialCheck.Run(new DifferentialOptions(seed, ProbesPerSeed));
            output.WriteLine(report.Summary);
            foreach (var m in report.Mismatches)
                output.WriteLine("  " + m);
            output.WriteLine("  " + report.Verdict);
            probes += report.Probes;
            mismatches += report.MismatchCount;
            supervisor += report.SupervisorProbes;
            faults += report.Faults;
            reserved += report.ReservedFaults;
            accessedDirty += report.AccessedDirtyChanges;
        }
        output.WriteLine($"seeds {string.Join(", ", Seeds)}: {probes} probes, {mismatches} mismatches");
        Assert.Equal(0, mismatches);
        // The check is not vacuous: both privilege levels, successes, faults, reserved-bit
        // faults and A/D updates all occurred.
        Assert.InRange(supervisor, 1, probes - 1);
        Assert.InRange(faults, 1, probes - 1);
        Assert.True(reserved > 0, "no reserved-bit fault was exercised");
        Assert.True(accessedDirty > 0, "the vCPU set no A/D bit");
    }

    [SkippableFact]
    public void AModelThatIgnoresCr0WpIsCaught()
    {
        KvmFact.SkipIfUnavailable();
        var report = DifferentialCheck.Run(new DifferentialOptions(5, 10_000)
        {
            ModelOverride = c => c with { WriteProtect = !c.WriteProtect },
        });
        output.WriteLine(report.Verdict);
        Assert.Contains(report.Mismatches, m => m.Kind == MismatchKind.Outcome && !m.Cpu.User && m.Probe.Access == FastPT.AccessType.Write);
    }

    [SkippableFact]
    public void AModelThatForgetsAccessedDirtyIsCaught()
    {
        KvmFact.SkipIfUnavailable();
        var report = DifferentialCheck.Run(new DifferentialOptions(6, 5_000) { ModelSetsAccessedDirty = false });
        output.WriteLine(report.Verdict);
        Assert.Contains(report.Mismatches, m => m.Kind == MismatchKind.TableEntry);
        Assert.DoesNotContain(report.Mismatches, m => m.Kind == MismatchKind.Outcome);
    }
}
