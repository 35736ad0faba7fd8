using FastPT.Kvm.Vmm;
using Xunit;

namespace FastPT.Kvm.Tests;

/// <summary>Skips a test only when /dev/kvm cannot be used, saying why.</summary>
internal static class KvmFact
{
    public static void SkipIfUnavailable()
    {
        string? reason = KvmSystem.UnavailableReason();
        Skip.If(reason is not null, $"KVM oracle unavailable: {reason}");
    }
}
