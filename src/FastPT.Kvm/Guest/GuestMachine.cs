using FastPT.Entries;
using FastPT.Kvm.Interop;
using FastPT.Kvm.Vmm;
using FastPT.Memory;
using FastPT.Paging;

namespace FastPT.Kvm.Guest;

/// <summary>
/// A VM whose page tables are a FastPT <see cref="AddressSpace"/> living in guest RAM: the
/// vCPU's CR3 is <see cref="AddressSpace.Root"/>, so the tables KVM walks are FastPT's own.
/// The system area (<see cref="GuestLayout"/>) is identity-mapped under PML4 slot 0 with A and
/// D already set in every entry on its paths, so only experiments change A/D bits.
/// </summary>
public sealed unsafe class GuestMachine : IDisposable
{
    /// <summary>Flags for the system's leaves and tables: P|RW|A|D, plus US where users go.</summary>
    private const ulong SystemFlags = Pte.Present | Pte.Writable | Pte.Accessed | Pte.Dirty;

    /// <param name="highRam">Also give the guest <see cref="GuestLayout.HighRam"/> (a second slot above a hole), identity-mapped for its kernel.</param>
    public GuestMachine(PageFaultMode mode, ExtraGuestFeatures extras = ExtraGuestFeatures.None, bool highRam = false)
    {
        Vm = new VirtualMachine(GuestLayout.MemorySize, extras);
        try
        {
            TableSource = new GuestMemoryTableSource(Memory.At(GuestLayout.Tables), GuestLayout.Tables, GuestLayout.TablesEnd - GuestLayout.Tables);
            Space = new AddressSpace(TableSource);
            MapSystem();
            Memory.Bytes(GuestLayout.Scratch, (int)(GuestLayout.MemorySize - GuestLayout.Scratch)).Fill(0xC3);
            if (highRam)
            {
                HighMemory = Vm.AddMemory(GuestLayout.HighRam, GuestLayout.HighRamSize);
                HighMemory.Bytes(GuestLayout.HighTablesEnd - GuestLayout.HighRam, (int)(GuestLayout.HighRam + GuestLayout.HighRamSize - GuestLayout.HighTablesEnd)).Fill(0xC3);
                for (ulong pa = GuestLayout.HighRam; pa < GuestLayout.HighRam + GuestLayout.HighRamSize; pa += 0x20_0000)
                    Space.Map(pa, pa, PageSize.Size2M, SystemFlags, Pte.Present | Pte.Writable | Pte.User | Pte.Accessed);
            }
            GuestKernel.Install(Memory, mode);
        }
        catch
        {
            Vm.Dispose();
            throw;
        }
    }

    public VirtualMachine Vm { get; }

    public GuestMemory Memory => Vm.Memory;

    public Vcpu Vcpu => Vm.Vcpu;

    public GuestCpuFeatures Features => Vm.Features;

    public GuestMemoryTableSource TableSource { get; }

    /// <summary>The RAM at <see cref="GuestLayout.HighRam"/>, or null when the machine has none.</summary>
    public GuestMemory? HighMemory { get; }

    public AddressSpace Space { get; }

    /// <summary>The CpuMode FastPT must use to model this vCPU (MAXPHYADDR, AMD's reserved bit 8).</summary>
    public CpuMode Model(CpuMode cpu) => cpu with
    {
        MaxPhysicalAddressBits = Features.MaxPhysicalAddressBits,
        NonLeafBit8Reserved = Features.IsAmd,
        Pages1G = Features.Pages1G,
    };

    /// <summary>
    /// Loads the mode and CR3 (which also flushes the guest TLB) and starts at <paramref name="rip"/>.
    /// CR3 is FastPT's <see cref="Space"/> unless <paramref name="cr3"/> names another root (one the guest built).
    /// </summary>
    public VcpuExit Start(in CpuMode cpu, ulong rip, TimeSpan limit, in KvmRegs extra = default, ulong? cr3 = null)
    {
        if (cpu.ProtectionKeys && !Features.Pku)
            throw new NotSupportedException("the guest CPU has no PKU here (KVM_GET_SUPPORTED_CPUID lacks it), so CR4.PKE cannot be set");
        Vcpu.SetSregs(GuestCpuState.Sregs(Vcpu.GetSregs(), cpu, cr3 ?? Space.Root));
        var regs = GuestCpuState.Regs(cpu, rip);
        regs.R8 = extra.R8;
        regs.R9 = extra.R9;
        regs.R10 = extra.R10;
        regs.R11 = extra.R11;
        regs.R12 = extra.R12;
        Vcpu.SetRegs(regs);
        return Vcpu.Run(limit);
    }

    /// <summary>Continues after an exit the VMM has handled.</summary>
    public VcpuExit Resume(TimeSpan limit) => Vcpu.Run(limit);

    private void MapSystem()
    {
        const ulong tableFlags = Pte.Present | Pte.Writable | Pte.User | Pte.Accessed;
        for (ulong va = 0x1000; va < 0x200000; va += 0x1000)
        {
            bool user = va >= GuestLayout.KernelStackTop && va < GuestLayout.UserSharedEnd;
            Space.Map(va, va, PageSize.Size4K, SystemFlags | (user ? Pte.User : 0), tableFlags);
        }
        Space.Map(GuestLayout.KernelCode, GuestLayout.KernelCode, PageSize.Size2M, SystemFlags, tableFlags);
        Space.Map(GuestLayout.UserCode, GuestLayout.UserCode, PageSize.Size2M, SystemFlags | Pte.User, tableFlags);
        // Where a guest writes its own tables: its kernel reaches them (supervisor, identity).
        for (ulong pa = GuestLayout.GuestTables; pa < GuestLayout.GuestTablesEnd; pa += 0x20_0000)
            Space.Map(pa, pa, PageSize.Size2M, SystemFlags, tableFlags);
    }

    public void Dispose() => Vm.Dispose();
}
