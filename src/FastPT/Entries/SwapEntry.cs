namespace FastPT.Entries;

/// <summary>
/// The x86-64 "swap format" of a non-present entry: type in bits 59..63, the one's
/// complement of the offset in bits 9..58 (L1TF hardening), bits 1..3 free for flags.
/// </summary>
internal static class SwapEntry
{
    public const int TypeBits = 5;
    public const int TypeShift = 59;
    public const int OffsetShift = 14;   // encode: (~offset << 14) >> 5 puts it at bit 9
    public const ulong MaxOffset = (1UL << 50) - 1;

    /// <summary>_PAGE_SWP_SOFT_DIRTY (= RW position).</summary>
    public const ulong SoftDirty = 1UL << 1;
    /// <summary>_PAGE_SWP_UFFD_WP (= US position).</summary>
    public const ulong UffdWp = 1UL << 2;
    /// <summary>_PAGE_SWP_EXCLUSIVE (= PWT position).</summary>
    public const ulong Exclusive = 1UL << 3;
    public const ulong FlagBits = SoftDirty | UffdWp | Exclusive;

    public static ulong Make(int type, ulong offset)
    {
        if ((uint)type >= 1u << TypeBits)
            throw new ArgumentOutOfRangeException(nameof(type), type, "a swap type is 0..31");
        if (offset > MaxOffset)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "a swap offset has 50 bits");
        return ((~offset) << OffsetShift >> TypeBits) | ((ulong)type << TypeShift);
    }

    public static int Type(ulong entry) => (int)(entry >> TypeShift);

    /// <summary>The offset, with the flag bits ignored as pte_to_swp_entry does.</summary>
    public static ulong Offset(ulong entry) => (~(entry & ~FlagBits)) << TypeBits >> OffsetShift;
}
