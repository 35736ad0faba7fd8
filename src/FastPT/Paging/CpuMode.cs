namespace FastPT;

/// <summary>
/// The processor state a translation depends on: CPL (User), CR0.WP, EFER.NXE, CR4.SMEP,
/// CR4.SMAP with EFLAGS.AC, CR4.PKE with PKRU, MAXPHYADDR, and whether bit 8 of PML4Es and
/// PML5Es is reserved (AMD processors reserve it there; Intel, and AMD in PDPTEs/PDEs, ignore it).
/// </summary>
public readonly record struct CpuMode(
    bool User,
    bool WriteProtect = true,
    bool Nxe = true,
    bool Smep = false,
    bool Smap = false,
    bool AlignmentCheck = false,
    bool ProtectionKeys = false,
    uint Pkru = 0,
    int MaxPhysicalAddressBits = 52,
    bool NonLeafBit8Reserved = false)
{
    public static CpuMode UserMode => new(User: true);
    public static CpuMode Supervisor => new(User: false);
}
