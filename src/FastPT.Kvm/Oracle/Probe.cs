using FastPT.Paging;

namespace FastPT.Kvm.Oracle;

/// <summary>One access the guest performs: a 1-byte read, a 1-byte write (of 0xC3), or a call into the address.</summary>
public readonly record struct Probe(ulong Address, AccessType Access);

/// <summary>What happened to a probe: success, or a #PF with its error code and CR2.</summary>
public readonly record struct ProbeOutcome(bool Faulted, PageFaultError ErrorCode, ulong Cr2)
{
    public static readonly ProbeOutcome Success = new(false, PageFaultError.None, 0);

    public override string ToString() => Faulted ? $"#PF error 0x{(uint)ErrorCode:X} ({ErrorCode}) CR2=0x{Cr2:X}" : "success";
}
