namespace FastPT.Entries;

/// <summary>
/// PTE markers: swap-format entries of type SWP_PTE_MARKER (31 since 6.2 and at the seed
/// commit) whose offset is a bit set of marker kinds. They stand in empty entries.
/// </summary>
public static class PteMarker
{
    public const int SwapType = 31;
    public const ulong UffdWpBit = 1 << 0;
    public const ulong PoisonedBit = 1 << 1;
    public const ulong GuardBit = 1 << 2;

    /// <summary>The uffd-wp marker: type 31, offset 1.</summary>
    public const ulong UffdWp = 0xFFFF_FFFF_FFFF_FC00;
    public const ulong Poisoned = 0xFFFF_FFFF_FFFF_FA00;
    public const ulong Guard = 0xFFFF_FFFF_FFFF_F600;

    public static ulong Make(ulong markerBits) => SwapEntry.Make(SwapType, markerBits);

    public static bool IsMarker(ulong entry) => LinuxPte.IsSwap(entry) && SwapEntry.Type(entry) == SwapType;

    /// <summary>pte_marker_uffd_wp: a marker whose bits include UFFD_WP.</summary>
    public static bool IsUffdWp(ulong entry) => IsMarker(entry) && (SwapEntry.Offset(entry) & UffdWpBit) != 0;

    public static bool IsGuard(ulong entry) => IsMarker(entry) && (SwapEntry.Offset(entry) & GuardBit) != 0;

    public static bool IsPoisoned(ulong entry) => IsMarker(entry) && (SwapEntry.Offset(entry) & PoisonedBit) != 0;
}
