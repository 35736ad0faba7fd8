using System.Globalization;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Oracle;
using FastPT.Kvm.Vmm;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

/// <summary>
/// FastPT attached to tables the guest wrote itself (two RAM regions, a hole between, shared
/// tables, a recursive slot, reserved bits), against the vCPU walking them. CI: 2 seeds x
/// 10,000 probes (a few seconds). FASTPT_KVM_SEED / FASTPT_KVM_PROBES as for the other check.
/// </summary>
public sealed class GuestBuiltTests(ITestOutputHelper output)
{
    private static readonly int[] CiSeeds = [11, 22];

    private static int ProbesPerSeed => Env("FASTPT_KVM_PROBES") ?? 10_000;

    private static int[] Seeds => Env("FASTPT_KVM_SEED") is { } s ? [s] : CiSeeds;

    private static int? Env(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? int.Parse(v, CultureInfo.InvariantCulture) : null;

    [SkippableFact]
    public void TranslateOnGuestBuiltTablesAgreesWithKvm()
    {
        KvmFact.SkipIfUnavailable();
        var total = new DifferentialReport { Options = new DifferentialOptions(0, 1) };
        foreach (int seed in Seeds)
        {
            var report = GuestBuiltCheck.Run(new DifferentialOptions(seed, ProbesPerSeed));
            output.WriteLine(report.Summary);
            foreach (var m in report.Mismatches)
                output.WriteLine("  " + m);
            output.WriteLine("  " + report.Verdict);
            total.Probes += report.Probes;
            total.MismatchCount += report.MismatchCount;
            total.SupervisorProbes += report.SupervisorProbes;
            total.Faults += report.Faults;
            total.ReservedFaults += report.ReservedFaults;
            total.AccessedDirtyChanges += report.AccessedDirtyChanges;
            total.GuestTablesAboveTheHole += report.GuestTablesAboveTheHole;
            total.SharedLinks += report.SharedLinks;
            total.RecursiveProbes += report.RecursiveProbes;
        }
        output.WriteLine($"seeds {string.Join(", ", Seeds)}: {total.Verdict}");
        Assert.Equal(0, total.MismatchCount);
        // Not vacuous: both privilege levels, successes and faults, reserved bits, A/D set by
        // the vCPU, tables above the hole, tables linked twice, walks through a recursive slot.
        Assert.InRange(total.SupervisorProbes, 1, total.Probes - 1);
        Assert.InRange(total.Faults, 1, total.Probes - 1);
        Assert.True(total.ReservedFaults > 0, "no reserved-bit fault was exercised");
        Assert.True(total.AccessedDirtyChanges > 0, "the vCPU set no A/D bit");
        Assert.True(total.GuestTablesAboveTheHole > 0 && total.SharedLinks > 0 && total.RecursiveProbes > 0,
            $"tables above the hole {total.GuestTablesAboveTheHole}, shared links {total.SharedLinks}, recursive probes {total.RecursiveProbes}");
    }

    [SkippableFact]
    public void AModelThatForgetsAccessedDirtyIsCaught()
    {
        KvmFact.SkipIfUnavailable();
        var report = GuestBuiltCheck.Run(new DifferentialOptions(7, 5_000) { ModelSetsAccessedDirty = false });
        output.WriteLine(report.Verdict);
        Assert.Contains(report.Mismatches, m => m.Kind == MismatchKind.TableEntry);
        Assert.DoesNotContain(report.Mismatches, m => m.Kind == MismatchKind.Outcome);
    }

    [SkippableFact]
    public void AModelWithOneGigabytePagesTheGuestLacksIsCaught()
    {
        KvmFact.SkipIfUnavailable();
        using (var probe = new GuestMachine(PageFaultMode.RecordAndSkip))
            Skip.If(probe.Features.Pages1G, "the guest CPU has 1 GiB pages here, so PS in a PDPTE is no reserved bit to get wrong");
        var report = GuestBuiltCheck.Run(new DifferentialOptions(8, 10_000) { ModelOverride = c => c with { Pages1G = true } });
        output.WriteLine(report.Verdict);
        Assert.Contains(report.Mismatches, m => m.Kind == MismatchKind.Outcome && m.Actual.Contains("Reserved", StringComparison.Ordinal));
    }
}
