using Iced.Intel;
using FastPT.Kvm.Vmm;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Kvm.Guest;

/// <summary>
/// The guest's supervisor side: GDT, TSS (RSP0 for faults taken at CPL 3), an IDT whose #PF
/// gate goes to the chosen handler and whose other exception gates report the vector to the
/// VMM (port <see cref="GuestLayout.PortUnexpectedException"/>) and halt.
/// </summary>
public static class GuestKernel
{
    public static void Install(GuestMemory memory, PageFaultMode mode)
    {
        WriteGdt(memory);
        WriteTss(memory);
        var a = new Assembler(64);
        var pf = a.CreateLabel("pf");
        var unexpected = new Label[32];
        for (int v = 0; v < 32; v++)
        {
            if (v == 14)
                continue;
            unexpected[v] = a.CreateLabel();
            a.Label(ref unexpected[v]);
            a.mov(eax, v);
            a.mov(dx, GuestLayout.PortUnexpectedException);
            a.@out(dx, eax);
            var halt = a.CreateLabel();
            a.Label(ref halt);
            a.hlt();
            a.jmp(halt);
        }
        a.Label(ref pf);
        if (mode == PageFaultMode.RecordAndSkip)
            EmitRecordAndSkip(a);
        else
            EmitReportAndRetry(a);
        var result = GuestAssembler.Emit(memory, a, GuestLayout.KernelHandlers, GuestLayout.KernelHandlersEnd - GuestLayout.KernelHandlers);
        for (int v = 0; v < 32; v++)
            WriteGate(memory, v, result.GetLabelRIP(v == 14 ? pf : unexpected[v]));
    }

    // Frame after `push rax`: [rsp]=rax, +8 error code, +16 RIP, +24 CS, +32 RFLAGS, +40 RSP, +48 SS.
    private static void EmitRecordAndSkip(Assembler a)
    {
        a.push(rax);
        a.mov(rax, cr2);
        a.mov(__qword_ptr[r15], rax);
        a.mov(rax, __qword_ptr[rsp + 8]);
        a.bts(rax, 63);
        a.mov(__qword_ptr[r15 + 8], rax);
        a.mov(__qword_ptr[rsp + 16], r14);
        a.mov(__qword_ptr[rsp + 40], r13);
        a.pop(rax);
        a.add(rsp, 8);
        a.iretq();
    }

    // Frame after `push rax; push rdx`: +16 error code, +24 RIP.
    private static void EmitReportAndRetry(Assembler a)
    {
        a.push(rax);
        a.push(rdx);
        a.mov(rax, cr2);
        a.mov(__qword_ptr[(long)GuestLayout.Mailbox], rax);
        a.mov(rax, __qword_ptr[rsp + 16]);
        a.mov(__qword_ptr[(long)GuestLayout.Mailbox + 8], rax);
        a.mov(rax, __qword_ptr[rsp + 24]);
        a.mov(__qword_ptr[(long)GuestLayout.Mailbox + 16], rax);
        a.mov(dx, GuestLayout.PortPageFault);
        a.@out(dx, al);
        // The VMM has resolved the fault; drop the stale translation as a guest kernel would.
        a.mov(rax, __qword_ptr[(long)GuestLayout.Mailbox]);
        a.invlpg(__[rax]);
        a.pop(rdx);
        a.pop(rax);
        a.add(rsp, 8);
        a.iretq();
    }

    private static void WriteGdt(GuestMemory memory)
    {
        ulong g = GuestLayout.Gdt;
        memory.U64(g + 0x00) = 0;
        memory.U64(g + 0x08) = 0x00AF_9A00_0000_FFFF; // kernel code, L=1, DPL 0
        memory.U64(g + 0x10) = 0x00CF_9200_0000_FFFF; // kernel data
        memory.U64(g + 0x18) = 0x00AF_FA00_0000_FFFF; // user code, L=1, DPL 3
        memory.U64(g + 0x20) = 0x00CF_F200_0000_FFFF; // user data, DPL 3
        ulong tss = GuestLayout.Tss;
        const ulong limit = TssLimit;
        memory.U64(g + 0x28) = limit | ((tss & 0xFFFFFF) << 16) | (0x8BUL << 40) | (((tss >> 24) & 0xFF) << 56); // busy 64-bit TSS
        memory.U64(g + 0x30) = tss >> 32;
    }

    /// <summary>104-byte TSS + I/O bitmap for ports 0..255 + the terminating 0xFF byte.</summary>
    public const uint TssLimit = 104 + 32 + 1 - 1;

    // kvm_pvm clears RFLAGS.IOPL for code it runs natively at CPL 3 (else the guest could reach
    // host ports), so CPL-3 OUT is allowed by the TSS I/O bitmap instead: only the VMM's ports.
    private static void WriteTss(GuestMemory memory)
    {
        memory.Bytes(GuestLayout.Tss, (int)TssLimit + 1).Clear();
        memory.U64(GuestLayout.Tss + 4) = GuestLayout.KernelStackTop; // RSP0
        System.Runtime.InteropServices.MemoryMarshal.Write(memory.Bytes(GuestLayout.Tss + 0x66, 2), (ushort)104);
        var bitmap = memory.Bytes(GuestLayout.Tss + 104, 33);
        bitmap.Fill(0xFF);
        for (int port = GuestLayout.PortDone; port <= GuestLayout.PortRoundDone; port++)
            bitmap[port / 8] &= (byte)~(1 << (port % 8));
    }

    private static void WriteGate(GuestMemory memory, int vector, ulong handler)
    {
        ulong at = GuestLayout.Idt + (ulong)vector * 16;
        memory.U64(at) = (handler & 0xFFFF) | ((ulong)GuestLayout.KernelCs << 16) | (0x8EUL << 40) | (((handler >> 16) & 0xFFFF) << 48);
        memory.U64(at + 8) = handler >> 32;
    }
}
