using FastPT.Kvm.Interop;
using FastPT.Paging;

namespace FastPT.Kvm.Guest;

/// <summary>Builds the vCPU state for 64-bit long mode straight from reset: no firmware, no mode switches.</summary>
public static class GuestCpuState
{
    public const ulong Cr0Pe = 1, Cr0Mp = 1 << 1, Cr0Et = 1 << 4, Cr0Ne = 1 << 5, Cr0Wp = 1 << 16, Cr0Pg = 1UL << 31;
    public const ulong Cr4Pae = 1 << 5, Cr4Smep = 1 << 20, Cr4Smap = 1 << 21, Cr4Pke = 1 << 22;
    public const ulong EferLme = 1 << 8, EferLma = 1 << 10, EferNxe = 1 << 11;
    public const ulong RflagsReserved = 1 << 1, RflagsIopl3 = 3 << 12, RflagsAc = 1 << 18;

    /// <summary>Segment and control registers for <paramref name="cpu"/> with CR3 = <paramref name="cr3"/>.</summary>
    public static KvmSregs Sregs(KvmSregs current, in CpuMode cpu, ulong cr3)
    {
        var s = current;
        byte dpl = (byte)(cpu.User ? 3 : 0);
        s.Cs = new KvmSegment { Base = 0, Limit = 0xFFFF_FFFF, Selector = cpu.User ? GuestLayout.UserCs : GuestLayout.KernelCs, Type = 0xB, Present = 1, Dpl = dpl, S = 1, L = 1, G = 1 };
        var data = new KvmSegment { Base = 0, Limit = 0xFFFF_FFFF, Selector = cpu.User ? GuestLayout.UserDs : GuestLayout.KernelDs, Type = 0x3, Present = 1, Dpl = dpl, Db = 1, S = 1, G = 1 };
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = data;
        s.Tr = new KvmSegment { Base = GuestLayout.Tss, Limit = GuestKernel.TssLimit, Selector = GuestLayout.TssSelector, Type = 0xB, Present = 1 };
        s.Ldt = new KvmSegment { Type = 2, Present = 1, Unusable = 1 };
        s.Gdt = new KvmDtable { Base = GuestLayout.Gdt, Limit = 0x37 };
        s.Idt = new KvmDtable { Base = GuestLayout.Idt, Limit = 32 * 16 - 1 };
        s.Cr0 = Cr0Pe | Cr0Mp | Cr0Et | Cr0Ne | Cr0Pg | (cpu.WriteProtect ? Cr0Wp : 0);
        s.Cr3 = cr3;
        s.Cr4 = Cr4Pae | (cpu.Smep ? Cr4Smep : 0) | (cpu.Smap ? Cr4Smap : 0) | (cpu.ProtectionKeys ? Cr4Pke : 0);
        s.Efer = EferLme | EferLma | (cpu.Nxe ? EferNxe : 0);
        return s;
    }

    /// <summary>General registers to start at <paramref name="rip"/> on the stack of the mode's privilege level.</summary>
    public static KvmRegs Regs(in CpuMode cpu, ulong rip) => new()
    {
        Rip = rip,
        Rsp = cpu.User ? GuestLayout.UserStackTop : GuestLayout.KernelStackTop,
        Rflags = RflagsReserved | RflagsIopl3 | (cpu.AlignmentCheck ? RflagsAc : 0),
    };
}
