namespace FastPT.Entries;

/// <summary>
/// Bits of an x86-64 paging-structure entry (SDM vol. 3A ch. 4) and the software bits
/// Linux keeps in them. One table serves every level: where a bit means different things
/// at different levels the aliases are named separately.
/// </summary>
public static class Pte
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong WriteThrough = 1UL << 3;   // PWT
    public const ulong CacheDisable = 1UL << 4;   // PCD
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;          // leaves only
    public const ulong PageSize = 1UL << 7;       // PS in PDE/PDPTE
    public const ulong Pat4K = 1UL << 7;          // PAT in a 4 KiB PTE
    public const ulong Global = 1UL << 8;
    public const ulong PatLarge = 1UL << 12;      // PAT in a 2 MiB / 1 GiB leaf
    public const ulong NoExecute = 1UL << 63;     // XD, with EFER.NXE

    /// <summary>Physical address bits 12..51 (Linux fixes MAXPHYADDR at 52 for the mask).</summary>
    public const ulong PfnMask = 0x000F_FFFF_FFFF_F000;
    public const ulong Pfn2MMask = 0x000F_FFFF_FFE0_0000;
    public const ulong Pfn1GMask = 0x000F_FFFF_C000_0000;
    public const int PkeyShift = 59;
    public const ulong PkeyMask = 0xFUL << PkeyShift;

    // Linux software bits (arch/x86/include/asm/pgtable_types.h).
    /// <summary>Bit 8 with P=0: "present to Linux" (PROT_NONE, NUMA hinting).</summary>
    public const ulong ProtNone = Global;
    public const ulong Special = 1UL << 9;
    public const ulong UffdWp = 1UL << 10;
    public const ulong SoftDirty = 1UL << 11;
    public const ulong SavedDirty = 1UL << 58;    // 6.6+: D of a read-only PTE, so no W=0,D=1 (shadow stack)
    public const ulong DevMap = 1UL << 57;        // 6.6..~6.16

    /// <summary>Bits 5-6 a non-present entry may hold as garbage (Knights Landing erratum).</summary>
    public const ulong KnlErratumMask = Accessed | Dirty;

    /// <summary>Bits the SDM reserves in a 2 MiB leaf (13..20) and a 1 GiB leaf (13..29).</summary>
    public const ulong Reserved2MLeaf = 0x0000_0000_001F_E000;
    public const ulong Reserved1GLeaf = 0x0000_0000_3FFF_E000;

    public static ulong Pfn(ulong entry) => (entry & PfnMask) >> 12;
    public static ulong PhysicalAddress(ulong entry) => entry & PfnMask;
    public static int ProtectionKey(ulong entry) => (int)((entry & PkeyMask) >> PkeyShift);
    public static ulong WithProtectionKey(ulong entry, int key) => (entry & ~PkeyMask) | ((ulong)(key & 0xF) << PkeyShift);
}
