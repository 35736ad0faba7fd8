using FastPT.Kvm.Vmm;
using Xunit;

namespace FastPT.Kvm.Tests;

/// <summary>Bad arguments to the VMM's public calls fail with a clear exception and change nothing.</summary>
public sealed class VmmErrorTests
{
    private const ulong TwoMiB = 0x200000;

    [Theory]
    [InlineData(0UL)]
    [InlineData(0x1000UL)]
    [InlineData(TwoMiB + 0x1000)]
    public void GuestMemoryRejectsSizesThatAreNotWholeHugePages(ulong size)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new GuestMemory(size));
        Assert.Equal("size", e.ParamName);
        Assert.Contains("multiple of 2 MiB", e.Message);
    }

    [Fact]
    public unsafe void GuestMemoryRefusesRangesOutsideGuestRam()
    {
        using var memory = new GuestMemory(TwoMiB);
        Assert.True(memory.At(TwoMiB - 8, 8) == memory.HostBase + TwoMiB - 8);
        var past = Assert.Throws<ArgumentOutOfRangeException>(() => memory.U64(TwoMiB - 4));
        Assert.Contains("outside guest RAM [0, 0x200000)", past.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.At(TwoMiB));
        // length chosen so guestPhysical + length wraps: the check must not overflow.
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.At(0x1000, ulong.MaxValue - 0x800));
        memory.Dispose();
        memory.Dispose();
    }

    [SkippableFact]
    public void DirtyLogNeedsLoggingOnAndABigEnoughBitmap()
    {
        KvmFact.SkipIfUnavailable();
        using var vm = new VirtualMachine(TwoMiB);
        var bitmap = new ulong[TwoMiB / 4096 / 64];
        var off = Assert.Throws<InvalidOperationException>(() => vm.GetDirtyLog(bitmap));
        Assert.Contains("SetDirtyLogging(true)", off.Message);
        vm.SetDirtyLogging(true);
        var small = Assert.Throws<ArgumentException>(() => vm.GetDirtyLog(new ulong[bitmap.Length - 1]));
        Assert.Equal("bitmap", small.ParamName);
        Assert.Contains("512 bits (8 ulongs)", small.Message);
        vm.GetDirtyLog(bitmap);
        Assert.All(bitmap, word => Assert.Equal(0UL, word)); // nothing ran, nothing is dirty
    }
}
