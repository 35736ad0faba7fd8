namespace FastPT;

/// <summary>
/// The processor state a translation depends on: CPL (User), CR0.WP, EFER.NXE, CR4.SMEP,
/// CR4.SMAP with EFLAGS.AC, CR4.PKE with PKRU, MAXPHYADDR, whether bit 8 of PML4Es and
/// PML5Es is reserved (AMD processors reserve it there; Intel, and AMD in PDPTEs/PDEs, ignore
/// it), and whether the CPU has 1 GiB pages (CPUID 80000001H:EDX.26; without them PS in a
/// PDPTE is a reserved bit).
/// </summary>
/// <param name="User">CPL 3 (a user access).</param>
/// <param name="WriteProtect">CR0.WP: supervisor writes honour read-only pages.</param>
/// <param name="Nxe">EFER.NXE: bit 63 is no-execute (else reserved).</param>
/// <param name="Smep">CR4.SMEP: no supervisor fetch from user pages.</param>
/// <param name="Smap">CR4.SMAP: no supervisor data access to user pages unless <paramref name="AlignmentCheck"/>.</param>
/// <param name="AlignmentCheck">EFLAGS.AC (lifts SMAP for explicit supervisor accesses).</param>
/// <param name="ProtectionKeys">CR4.PKE: user pages are checked against <paramref name="Pkru"/>.</param>
/// <param name="Pkru">The PKRU register.</param>
/// <param name="MaxPhysicalAddressBits">MAXPHYADDR: address bits above it are reserved.</param>
/// <param name="NonLeafBit8Reserved">Bit 8 of PML4Es and PML5Es is reserved (AMD).</param>
/// <param name="Pages1G">The CPU has 1 GiB pages.</param>
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
    /// <summary>A user access with the defaults (CR0.WP, NXE).</summary>
    public static CpuMode UserMode => new(User: true);
    /// <summary>A supervisor access with the defaults (CR0.WP, NXE).</summary>
    public static CpuMode Supervisor => new(User: false);

    /// <summary>CR0.WP.</summary>
    public const ulong Cr0Wp = 1UL << 16;
    /// <summary>CR4.SMEP.</summary>
    public const ulong Cr4Smep = 1UL << 20;
    /// <summary>CR4.SMAP.</summary>
    public const ulong Cr4Smap = 1UL << 21;
    /// <summary>CR4.PKE.</summary>
    public const ulong Cr4Pke = 1UL << 22;
    /// <summary>CR4.LA57 (5-level paging).</summary>
    public const ulong Cr4La57 = 1UL << 12;
    /// <summary>EFER.NXE.</summary>
    public const ulong EferNxe = 1UL << 11;
    /// <summary>RFLAGS.AC.</summary>
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
