using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Kvm.Oracle;

/// <summary>
/// Guest kernel code that writes page-table entries into guest RAM with ordinary stores, then
/// loads CR3 with its root (which also flushes the guest's TLB), as a guest kernel builds and
/// switches to an address space. Straight-line (bounded by construction); ends with OUT of the
/// store count to <see cref="GuestLayout.PortDone"/>. Runs at CPL 0 on the system's tables,
/// which map the guest-table areas.
/// </summary>
public static class TableWriterProgram
{
    public static ulong Emit(GuestMemory memory, IReadOnlyList<(ulong Address, ulong Value)> stores, ulong cr3Value)
    {
        var a = new Assembler(64);
        foreach (var (address, value) in stores)
        {
            a.mov(rax, value);
            a.mov(rdx, address);
            a.mov(__qword_ptr[rdx], rax);
        }
        a.mov(rax, cr3Value);
        a.mov(cr3, rax);
        a.mov(eax, stores.Count);
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, eax);
        a.hlt();
        GuestAssembler.Emit(memory, a, GuestLayout.KernelCode, GuestLayout.CodeSize);
        return GuestLayout.KernelCode;
    }
}
