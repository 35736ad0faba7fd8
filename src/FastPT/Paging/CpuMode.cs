namespace FastPT;

/// <summary>
/// The processor state a translation depends on: CPL (User), CR0.WP, EFER.NXE, CR4.SMEP,
/// CR4.SMAP with EFLAGS.AC, CR4.PKE with PKRU, MAXPHYADDR, whether bit 8 of PML4Es and
/// PML5Es is reserved (AMD processors reserve it there; Intel, and AMD in PDPTEs/PDEs, ignore
/// it), and whether the CPU has 1 GiB pages (CPUID 80000001H:EDX.26; without them PS in a
/// PDPTE is a reserved bit).
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
    bool NonLeafBit8Reserved = false,
    bool Pages1G = true)
{
    public static CpuMode UserMode => new(User: true);
    public static CpuMode Supervisor => new(User: false);

    public const ulong Cr0Wp = 1UL << 16;
    public const ulong Cr4Smep = 1UL << 20, Cr4Smap = 1UL << 21, Cr4Pke = 1UL << 22, Cr4La57 = 1UL << 12;
    public const ulong EferNxe = 1UL << 11;
    public const ulong RflagsAc = 1UL << 18;

    /// <summary>
    /// The mode as an emulator holds it: control registers, RFLAGS, the CPL (3 = user) and
    /// PKRU as the guest set them, plus what the guest's CPUID says.
    /// </summary>
    public static CpuMode FromRegisters(ulong cr0, ulong cr4, ulong efer, ulong rflags, int cpl, uint pkru = 0,
        int maxPhysicalAddressBits = 52, bool amd = false, bool pages1G = true)
    {
        if (cpl is < 0 or > 3)
            throw new ArgumentOutOfRangeException(nameof(cpl), cpl, "the CPL is 0..3");
        return new CpuMode(
            User: cpl == 3,
            WriteProtect: (cr0 & Cr0Wp) != 0,
            Nxe: (efer & EferNxe) != 0,
            Smep: (cr4 & Cr4Smep) != 0,
            Smap: (cr4 & Cr4Smap) != 0,
            AlignmentCheck: (rflags & RflagsAc) != 0,
            ProtectionKeys: (cr4 & Cr4Pke) != 0,
            Pkru: pkru,
            MaxPhysicalAddressBits: maxPhysicalAddressBits,
            NonLeafBit8Reserved: amd,
            Pages1G: pages1G);
    }
}
