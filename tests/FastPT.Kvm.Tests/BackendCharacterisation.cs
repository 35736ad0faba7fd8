using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Oracle;
using FastPT.Paging;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

public sealed class BackendCharacterisation(ITestOutputHelper output)
{
    private const ulong Va = 0x0000_0080_0000_0000UL + 0x4020_3000;

    [SkippableFact]
    public void ReservedAddressBitsPerLevel()
    {
        KvmFact.SkipIfUnavailable();
        foreach (ulong Va in new[] { 0x0000_0080_4020_3000UL, 0xFFFF_8000_4020_3000UL, 0xFFFF_FF80_4020_3000UL })
        for (int level = 1; level <= 4; level++)
            for (int bit = 47; bit < 52; bit += 2)
            {
                using var m = new GuestMachine(PageFaultMode.RecordAndSkip, extraPagingFeatures: true);
                m.Space.Map(Va, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User, 0x27);
                m.Space.Entry(Va, level) |= 1UL << bit;
                ulong ip = ProbeProgram.Emit(m.Memory, [new Probe(Va, AccessType.Read)], user: true);
                var exit = m.Start(CpuMode.UserMode, ip, TimeSpan.FromSeconds(5));
                if (exit.Reason == FastPT.Kvm.Interop.KvmExitReason.Mmio)
                {
                    output.WriteLine($"va {Va:X} level {level} bit {bit}: MMIO exit at 0x{exit.Detail:X} (translated, no RSVD)");
                    continue;
                }
                Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
                output.WriteLine($"va {Va:X} level {level} bit {bit}: {ProbeProgram.Outcome(m.Memory, 0)}");
            }
    }
}
public sealed class SlotScan(ITestOutputHelper output)
{
    [SkippableFact]
    public void WhichPml4SlotsWork()
    {
        KvmFact.SkipIfUnavailable();
        foreach (bool user in new[] { true, false })
        {
            using var m = new GuestMachine(PageFaultMode.RecordAndSkip, extraPagingFeatures: true);
            var probes = new List<Probe>();
            for (ulong slot = 1; slot < 512; slot++)
            {
                ulong va = (ulong)((long)((slot << 39) << 16) >> 16) | 0x4020_3000;
                m.Space.Map(va, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User, 0x27);
                probes.Add(new Probe(va, AccessType.Read));
            }
            ulong ip = ProbeProgram.Emit(m.Memory, probes.ToArray(), user);
            var exit = m.Start(user ? CpuMode.UserMode : CpuMode.Supervisor, ip, TimeSpan.FromSeconds(5));
            Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
            var bad = new List<string>();
            for (int i = 0; i < probes.Count; i++)
            {
                var o = ProbeProgram.Outcome(m.Memory, i);
                if (o.Faulted)
                    bad.Add($"{i + 1}:{(uint)o.ErrorCode:X}");
            }
            output.WriteLine($"user={user}: faulting slots: {string.Join(' ', bad)}");
        }
    }
}
