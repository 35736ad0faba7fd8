using FastPT.Kvm.Scenarios;
using FastPT.Paging;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

public sealed class WriteProtectTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void GuestWritesToProtectedRangeRoundTripThroughTheVmm()
    {
        KvmFact.SkipIfUnavailable();
        var report = WriteProtectScenario.Run(presentPages: 12, emptyPages: 4, log: output.WriteLine);
        Assert.Equal(16, report.ProtectedEntries);
        Assert.Equal(16, report.Messages.Count);
        Assert.All(report.Messages, e => Assert.Equal(e.Predicted, e.Message.ErrorCode));
        Assert.Equal(12, report.Messages.Count(e => !e.WasMarker && e.Message.ErrorCode == (PageFaultError.Present | PageFaultError.Write | PageFaultError.User)));
        Assert.Equal(4, report.Messages.Count(e => e.WasMarker && e.Message.ErrorCode == (PageFaultError.Write | PageFaultError.User)));
        Assert.Equal(16, report.Messages.Select(e => e.Message.Address & ~0xFFFUL).Distinct().Count());
        Assert.All(report.Final, f => Assert.True(f.Ok, $"0x{f.Va:X}: entry 0x{f.Entry:X}, data 0x{f.Data:X} (want 0x{f.Expected:X})"));
    }

    /// <summary>
    /// Evidence for docs/kvm.md: KVM's shadow MMU does not see table edits made by the host, so
    /// without the VMM's sweep the guest writes straight through the protection.
    /// </summary>
    [SkippableFact]
    public void WithoutTheShadowSweepKvmKeepsStaleWritableTranslations()
    {
        KvmFact.SkipIfUnavailable();
        var report = WriteProtectScenario.Run(presentPages: 8, emptyPages: 0, flushShadow: false, log: output.WriteLine);
        Assert.Empty(report.Messages);
    }
}
