using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Paging;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Kvm.Oracle;

/// <summary>
/// Guest code for a batch of probes, straight-line (bounded by construction: no loops). Each
/// probe advances r15 to its 16-byte result slot, points r14 at the instruction after the
/// access, then accesses; a faulting access is recorded by the #PF handler, which resumes at
/// r14 with RSP = r13. Ends with OUT to <see cref="GuestLayout.PortDone"/>.
/// </summary>
public static class ProbeProgram
{
    public static ulong Emit(GuestMemory memory, ReadOnlySpan<Probe> probes, bool user)
    {
        if (probes.Length > GuestLayout.MaxProbesPerRun)
            throw new ArgumentOutOfRangeException(nameof(probes), probes.Length, $"at most {GuestLayout.MaxProbesPerRun} probes fit the result area");
        var a = new Assembler(64);
        a.mov(r13, rsp);
        a.mov(r15, GuestLayout.Results - 16);
        foreach (var p in probes)
        {
            var next = a.CreateLabel();
            a.add(r15, 16);
            a.lea(r14, __[next]);
            a.mov(rax, p.Address);
            switch (p.Access)
            {
                case AccessType.Read:
                    a.mov(cl, __byte_ptr[rax]);
                    break;
                case AccessType.Write:
                    a.mov(__byte_ptr[rax], 0xC3);
                    break;
                default:
                    a.call(rax); // scratch memory is all RET
                    break;
            }
            a.Label(ref next);
        }
        a.mov(eax, probes.Length);
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, eax);
        a.hlt();
        ulong ip = user ? GuestLayout.UserCode : GuestLayout.KernelCode;
        GuestAssembler.Emit(memory, a, ip, GuestLayout.CodeSize);
        memory.Bytes(GuestLayout.Results, probes.Length * 16).Clear();
        return ip;
    }

    /// <summary>Reads what the handler recorded for probe <paramref name="index"/>.</summary>
    public static ProbeOutcome Outcome(GuestMemory memory, int index)
    {
        ulong slot = GuestLayout.Results + (ulong)index * 16;
        ulong code = memory.U64(slot + 8);
        if ((code >> 63) == 0)
            return ProbeOutcome.Success;
        return new ProbeOutcome(true, (PageFaultError)(uint)code, memory.U64(slot));
    }
}
