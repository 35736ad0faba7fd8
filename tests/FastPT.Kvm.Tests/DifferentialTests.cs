using FastPT.Kvm.Oracle;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

public sealed class DifferentialTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Explore()
    {
        KvmFact.SkipIfUnavailable();
        int probes = int.Parse(Environment.GetEnvironmentVariable("FASTPT_KVM_PROBES") ?? "5000");
        int seed = int.Parse(Environment.GetEnvironmentVariable("FASTPT_KVM_SEED") ?? "1");
        var report = DifferentialCheck.Run(new DifferentialOptions(seed, probes), output.WriteLine);
        output.WriteLine(report.Features?.ToString());
        output.WriteLine(report.Summary);
        foreach (var m in report.Mismatches)
            output.WriteLine(m.ToString());
        output.WriteLine(report.Verdict);
        Assert.Equal(0, report.MismatchCount);
    }
}
