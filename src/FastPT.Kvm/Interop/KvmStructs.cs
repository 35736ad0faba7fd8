using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastPT.Kvm.Interop;

/// <summary>struct kvm_userspace_memory_region.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}

/// <summary>struct kvm_regs: the general registers of a vCPU.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRegs
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;

    public override readonly string ToString() =>
        $"rip={Rip:x} rsp={Rsp:x} rflags={Rflags:x} rax={Rax:x} rbx={Rbx:x} rcx={Rcx:x} rdx={Rdx:x} rsi={Rsi:x} rdi={Rdi:x} rbp={Rbp:x} " +
        $"r8={R8:x} r9={R9:x} r10={R10:x} r11={R11:x} r12={R12:x} r13={R13:x} r14={R14:x} r15={R15:x}";
}

/// <summary>struct kvm_segment.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type, Present, Dpl, Db, S, L, G, Avl, Unusable, Padding;
}

/// <summary>struct kvm_dtable (GDTR/IDTR).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0, Padding1, Padding2;
}

/// <summary>struct kvm_sregs: segments, descriptor tables, control registers, EFER.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSregs
{
    public KvmSegment Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public KvmDtable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
    public InterruptBitmap Interrupts;

    [InlineArray(4)]
    public struct InterruptBitmap { private ulong _element; }

    public override readonly string ToString() =>
        $"cr0={Cr0:x} cr2={Cr2:x} cr3={Cr3:x} cr4={Cr4:x} efer={Efer:x} cs={Cs.Selector:x}(dpl {Cs.Dpl}, l {Cs.L}) ss={Ss.Selector:x} " +
        $"idt={Idt.Base:x}/{Idt.Limit:x} gdt={Gdt.Base:x}/{Gdt.Limit:x} tr={Tr.Selector:x}@{Tr.Base:x}";
}

/// <summary>struct kvm_cpuid_entry2.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuidEntry
{
    public uint Function, Index, Flags, Eax, Ebx, Ecx, Edx;
    public uint Padding0, Padding1, Padding2;
}

/// <summary>struct kvm_dirty_log.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmDirtyLog
{
    public uint Slot;
    public uint Padding;
    public ulong DirtyBitmap;
}

/// <summary>struct kvm_clear_dirty_log.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmClearDirtyLog
{
    public uint Slot;
    public uint NumPages;
    public ulong FirstPage;
    public ulong DirtyBitmap;
}

/// <summary>struct kvm_enable_cap.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmEnableCap
{
    public uint Cap;
    public uint Flags;
    public fixed ulong Args[4];
    public fixed byte Pad[64];
}

/// <summary>Offsets into the mmap'ed struct kvm_run page.</summary>
internal static class KvmRunLayout
{
    public const int ExitReason = 8;
    public const int Union = 32;
    // io: u8 direction; u8 size; u16 port; u32 count; u64 data_offset
    public const int IoDirection = Union + 0;
    public const int IoSize = Union + 1;
    public const int IoPort = Union + 2;
    public const int IoCount = Union + 4;
    public const int IoDataOffset = Union + 8;
    // mmio: u64 phys_addr; u8 data[8]; u32 len; u8 is_write
    public const int MmioPhysAddr = Union + 0;
    public const int MmioLen = Union + 16;
    public const int MmioIsWrite = Union + 20;
    // internal: u32 suberror; u32 ndata; u64 data[16]
    public const int InternalSuberror = Union + 0;
    public const int FailEntryReason = Union + 0;
}
