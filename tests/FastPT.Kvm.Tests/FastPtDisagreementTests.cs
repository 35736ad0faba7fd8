using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Oracle;
using FastPT.Paging;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

/// <summary>
/// Disagreements between FastPT's Translate and the vCPU that were FastPT's, pinned as
/// regression tests. Bit 8: found by the differential check (seeds 303, 404), fixed on main
/// in "Translate: AMD reserves bit 8 only in PML4Es/PML5Es".
/// </summary>
public sealed class FastPtDisagreementTests(ITestOutputHelper output)
{
    /// <summary>
    /// AMD guest (CpuMode.NonLeafBit8Reserved = true). KVM treats bit 8 as reserved only in a
    /// non-leaf PML4E (level 4; also PML5E), not in a non-leaf PDPTE or PDE — which is also how
    /// the AMD APM's long-mode entry formats read (PML4E bits 8:7 MBZ; bit 8 ignored below).
    /// FastPT's AddressSpace.ReservedBits reserves it at every non-leaf level >= 2. Example:
    /// PML4E 0x...027, PDPTE 0x...127 (P|RW|US|A|bit 8), PDE 0x...027, PTE 0x1000007;
    /// read at CPL 3: KVM succeeds, FastPT returns 0xD (P|U|RSVD).
    /// </summary>
    [SkippableTheory]
    [InlineData(2)]
    [InlineData(3)]
    public void NonLeafBit8IsReservedOnlyInThePml4eOnAmd(int level)
    {
        KvmFact.SkipIfUnavailable();
        const ulong va = 0x0000_0080_4020_3000;
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        Skip.IfNot(m.Features.IsAmd, "the guest is not AMD: FastPT does not reserve bit 8 there");
        m.Space.Map(va, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User, 0x27);
        m.Space.Entry(va, level) |= Pte.Global;
        var fastpt = m.Space.Translate(va, AccessType.Read, m.Model(CpuMode.UserMode), updateAccessedDirty: false);
        ulong ip = ProbeProgram.Emit(m.Memory, [new Probe(va, AccessType.Read)], user: true);
        var exit = m.Start(CpuMode.UserMode, ip, TimeSpan.FromSeconds(5));
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
        var kvm = ProbeProgram.Outcome(m.Memory, 0);
        string path = string.Join(", ", Enumerable.Range(1, 4).Reverse().Select(l => $"L{l} 0x{m.Space.Entry(va, l):X}"));
        output.WriteLine($"bit 8 in the level-{level} entry ({path}): KVM {kvm}, FastPT {(fastpt.Success ? "success" : fastpt.ErrorCode)}");
        Assert.False(kvm.Faulted);
        Assert.True(fastpt.Success, $"FastPT faults with {fastpt.ErrorCode}; the vCPU translates");
    }
}
