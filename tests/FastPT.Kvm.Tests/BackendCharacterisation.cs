using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Interop;
using FastPT.Kvm.Oracle;
using FastPT.Kvm.Vmm;
using FastPT.Paging;
using Xunit;
using Xunit.Abstractions;

namespace FastPT.Kvm.Tests;

/// <summary>
/// What the kvm_pvm backend does where it departs from the SDM (docs/kvm.md). These assert
/// the backend's behaviour, so a backend change shows up here first.
/// </summary>
public sealed class BackendCharacterisation(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    private static ProbeOutcome ProbeOnce(GuestMachine m, ulong va, CpuMode cpu, out VcpuExit exit)
    {
        ulong ip = ProbeProgram.Emit(m.Memory, [new Probe(va, AccessType.Read)], cpu.User);
        exit = m.Start(cpu, ip, Limit);
        return exit.IsOutTo(GuestLayout.PortDone) ? ProbeProgram.Outcome(m.Memory, 0) : default;
    }

    [SkippableFact]
    public void GuestCpuidAsOfferedByTheBackend()
    {
        KvmFact.SkipIfUnavailable();
        var f = GuestCpuFeatures.From(KvmSystem.SupportedCpuid());
        output.WriteLine($"KVM_GET_SUPPORTED_CPUID: {f}");
        output.WriteLine($"host /proc/cpuinfo: smep={HostCpu.Flags.Contains("smep")} smap={HostCpu.Flags.Contains("smap")} pdpe1gb={HostCpu.Flags.Contains("pdpe1gb")} pku={HostCpu.Flags.Contains("pku")} la57={HostCpu.Flags.Contains("la57")}");
        Assert.True(f.Nx);
    }

    [SkippableFact]
    public void OneGigabyteLeafIsReservedEvenWhenCpuidOffersIt()
    {
        KvmFact.SkipIfUnavailable();
        Skip.IfNot(HostCpu.Flags.Contains("pdpe1gb"), "the host CPU has no 1 GiB pages to offer");
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip, ExtraGuestFeatures.Pages1G);
        Assert.True(m.Features.Pages1G);
        const ulong va = 0x0000_0080_4000_0000;
        m.Space.Map(va, 0, PageSize.Size1G, Pte.Present | Pte.Writable | Pte.User, 0x27);
        var fastpt = m.Space.Translate(va + GuestLayout.Scratch, AccessType.Read, m.Model(CpuMode.UserMode), updateAccessedDirty: false);
        var kvm = ProbeOnce(m, va + GuestLayout.Scratch, CpuMode.UserMode, out var exit);
        output.WriteLine($"FastPT: {(fastpt.Success ? "success" : fastpt.ErrorCode.ToString())}; KVM: {kvm}; {exit.Describe()}");
        Assert.True(fastpt.Success);
        Assert.Equal(PageFaultError.Present | PageFaultError.User | PageFaultError.Reserved, kvm.ErrorCode);
    }

    [SkippableFact]
    public void Pml4Slot256IsTheBackendsAtCpl3()
    {
        KvmFact.SkipIfUnavailable();
        const ulong va = 0xFFFF_8000_4020_3000;
        foreach (bool user in new[] { true, false })
        {
            using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
            m.Space.Map(va, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User, 0x27);
            var cpu = user ? CpuMode.UserMode : CpuMode.Supervisor;
            var kvm = ProbeOnce(m, va, cpu, out var exit);
            Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
            output.WriteLine($"CPL{(user ? 3 : 0)} read of mapped 0x{va:X}: {kvm}");
            if (user)
                Assert.Equal(new ProbeOutcome(true, PageFaultError.User, va), kvm);
            else
                Assert.False(kvm.Faulted);
        }
    }

    [SkippableFact]
    public void ReservedAddressBitsFollowGuestMaxPhysAddr()
    {
        KvmFact.SkipIfUnavailable();
        const ulong va = 0x0000_0080_4020_3000;
        for (int level = 1; level <= 4; level++)
        {
            using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
            int bit = m.Features.MaxPhysicalAddressBits;
            m.Space.Map(va, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User, 0x27);
            m.Space.Entry(va, level) |= 1UL << bit;
            var kvm = ProbeOnce(m, va, CpuMode.UserMode, out var exit);
            Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
            var fastpt = m.Space.Translate(va, AccessType.Read, m.Model(CpuMode.UserMode), updateAccessedDirty: false);
            output.WriteLine($"bit {bit} at level {level}: KVM {kvm}, FastPT {fastpt.ErrorCode}");
            Assert.Equal(PageFaultError.Present | PageFaultError.User | PageFaultError.Reserved, kvm.ErrorCode);
            Assert.Equal(kvm.ErrorCode, fastpt.ErrorCode);
        }
    }

    /// <summary>A table pointer to guest-physical memory with no RAM: KVM reports not-present.</summary>
    [SkippableFact]
    public void TablePointerOutsideGuestRamFaultsAsNotPresent()
    {
        KvmFact.SkipIfUnavailable();
        const ulong va = 0x0000_0080_4020_3000;
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        m.Space.Map(va, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User, 0x27);
        m.Space.Entry(va, 2) |= 1UL << 40;
        var kvm = ProbeOnce(m, va, CpuMode.UserMode, out var exit);
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
        output.WriteLine($"PDE pointing 1 TiB past guest RAM: KVM {kvm}");
        Assert.Equal(PageFaultError.User, kvm.ErrorCode);
    }
}

/// <summary>
/// Does a guest INVLPG make KVM notice a host-side edit? The guest writes X (KVM makes a
/// writable shadow entry), then touches unmapped Y; while that fault is with the VMM, the host
/// clears RW in X's PTE, maps Y and points the handler's INVLPG at X. The guest then writes X
/// again: on hardware that must fault.
/// </summary>
public sealed class GuestInvlpgAfterHostEdit(ITestOutputHelper output)
{
    [SkippableFact]
    public void GuestInvlpgAloneDoesNotDropAStaleWritableShadowEntry()
    {
        KvmFact.SkipIfUnavailable();
        const ulong x = 0x0000_0080_4000_0000, y = x + 0x10_0000;
        using var m = new GuestMachine(PageFaultMode.ReportAndRetry);
        m.Space.Map(x, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User | Pte.Accessed | Pte.Dirty, 0x27);
        var a = new Iced.Intel.Assembler(64);
        a.mov(Iced.Intel.AssemblerRegisters.rax, x);
        a.mov(Iced.Intel.AssemblerRegisters.__byte_ptr[Iced.Intel.AssemblerRegisters.rax], 1);
        a.mov(Iced.Intel.AssemblerRegisters.rax, y);
        a.mov(Iced.Intel.AssemblerRegisters.cl, Iced.Intel.AssemblerRegisters.__byte_ptr[Iced.Intel.AssemblerRegisters.rax]);
        a.mov(Iced.Intel.AssemblerRegisters.rax, x);
        a.mov(Iced.Intel.AssemblerRegisters.__byte_ptr[Iced.Intel.AssemblerRegisters.rax], 2);
        a.mov(Iced.Intel.AssemblerRegisters.dx, GuestLayout.PortDone);
        a.@out(Iced.Intel.AssemblerRegisters.dx, Iced.Intel.AssemblerRegisters.al);
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        var exit = m.Start(CpuMode.UserMode, GuestLayout.UserCode, TimeSpan.FromSeconds(5));
        Assert.True(exit.IsOutTo(GuestLayout.PortPageFault), exit.Describe());
        Assert.Equal(y, m.Memory.U64(GuestLayout.Mailbox));
        m.Space.Entry(x, 1) &= ~Pte.Writable;
        m.Space.Map(y, GuestLayout.Scratch + 0x1000, PageSize.Size4K, Pte.Present | Pte.User | Pte.Accessed, 0x27);
        m.Memory.U64(GuestLayout.Mailbox) = x; // the handler INVLPGs what the mailbox names
        exit = m.Resume(TimeSpan.FromSeconds(5));
        bool faulted = exit.IsOutTo(GuestLayout.PortPageFault);
        output.WriteLine(faulted
            ? $"second write to X faulted after the guest's INVLPG: error 0x{m.Memory.U64(GuestLayout.Mailbox + 8):X}"
            : $"second write to X went through a read-only PTE after the guest's INVLPG; byte now {m.Memory.Bytes(GuestLayout.Scratch, 1)[0]}; {exit.Describe()}");
        Assert.False(faulted);
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
        Assert.Equal(2, m.Memory.Bytes(GuestLayout.Scratch, 1)[0]);
    }
}

/// <summary>Mode changes through KVM_SET_SREGS and the shadow pages built before them.</summary>
public sealed class ShadowPagesAcrossModeChanges(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    private static ProbeOutcome Probe(GuestMachine m, ulong va, CpuMode cpu)
    {
        ulong ip = ProbeProgram.Emit(m.Memory, [new Probe(va, AccessType.Read)], cpu.User);
        var exit = m.Start(cpu, ip, Limit);
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
        return ProbeProgram.Outcome(m.Memory, 0);
    }

    [SkippableFact]
    public void ClearingEferNxeKeepsTranslationsMadeWithIt()
    {
        KvmFact.SkipIfUnavailable();
        const ulong va = 0x0000_0080_4020_3000;
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        m.Space.Map(va, GuestLayout.Scratch, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User | Pte.Accessed | Pte.NoExecute, 0x27);
        var withNx = Probe(m, va, CpuMode.UserMode);
        var stale = Probe(m, va, CpuMode.UserMode with { Nxe = false });
        m.Vm.ShadowZapAll();
        var fresh = Probe(m, va, CpuMode.UserMode with { Nxe = false });
        var fastpt = m.Space.Translate(va, AccessType.Read, m.Model(CpuMode.UserMode with { Nxe = false }), updateAccessedDirty: false);
        output.WriteLine($"NXE=1: {withNx}; then NXE=0 by KVM_SET_SREGS (same CR3): {stale}; after a shadow zap: {fresh}; FastPT with NXE=0: {fastpt.ErrorCode}");
        Assert.False(withNx.Faulted);
        Assert.Equal(PageFaultError.Present | PageFaultError.User | PageFaultError.Reserved, fresh.ErrorCode);
        Assert.Equal(fresh.ErrorCode, fastpt.ErrorCode);
    }
}

/// <summary>5-level paging: what the backend offers and what it lets a guest turn on.</summary>
public sealed class FiveLevelPaging(ITestOutputHelper output)
{
    [SkippableFact]
    public unsafe void La57IsOfferedInCpuidButCr4La57IsRefused()
    {
        KvmFact.SkipIfUnavailable();
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        Skip.IfNot(m.Features.La57, "the backend does not offer LA57 here (KVM_GET_SUPPORTED_CPUID), so there is nothing to turn on");
        // A 5-level root whose PML5E 0 leads to the system's PML4: low addresses would translate as before.
        Assert.True(m.TableSource.TryAllocate(out ulong root5));
        m.TableSource.Table(root5)[0] = m.Space.Root | 0x27;
        var sregs = GuestCpuState.Sregs(m.Vcpu.GetSregs(), CpuMode.UserMode, root5);
        sregs.Cr4 |= CpuMode.Cr4La57;
        var e = Assert.Throws<KvmException>(() => m.Vcpu.SetSregs(sregs));
        output.WriteLine($"{m.Features}; KVM_SET_SREGS with CR4.LA57: {e.Message}");
        Assert.Contains("EINVAL", e.Message, StringComparison.Ordinal);
    }
}
