using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// What a written-page scan needs per VMA. <paramref name="EmptyIsWritten"/>: none entries
/// count as written (the 2026 rule for uffd-wp VMAs). <paramref name="WriteProtect"/>:
/// PM_SCAN_WP_MATCHING, write-protect what was written. <paramref name="VmaCategories"/>:
/// bits that hold for the whole VMA (WPALLOWED, FILE, HUGE, VMA soft-dirty), ORed into every entry.
/// </summary>
public readonly record struct ScanParams(bool EmptyIsWritten, bool WriteProtect, PageCategories VmaCategories = PageCategories.None);

/// <summary>
/// The per-entry rule of PAGEMAP_SCAN's PTE walk: a present entry is PRESENT, and WRITTEN
/// unless bit 10; a swap-format entry is SWAPPED, and WRITTEN unless pte_swp_uffd_wp_any
/// (bit 2, or a uffd-wp marker); soft-dirty from bit 11 (present) or swap bit 1. With
/// WP_MATCHING a written entry is write-protected as make_uffd_wp_pte does.
/// </summary>
public static class ScanRule
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageCategories Categorize(ulong e, in ScanParams p)
    {
        var c = p.VmaCategories;
        if (LinuxPte.IsNone(e))
            return p.EmptyIsWritten ? c | PageCategories.Written : c;
        if (LinuxPte.IsPresent(e))
        {
            c |= PageCategories.Present;
            if ((e & Pte.UffdWp) == 0)
                c |= PageCategories.Written;
            if ((e & Pte.SoftDirty) != 0)
                c |= PageCategories.SoftDirty;
            return c;
        }
        c |= PageCategories.Swapped;
        if (!LinuxPte.IsSwapUffdWpAny(e))
            c |= PageCategories.Written;
        if ((e & SwapEntry.SoftDirty) != 0)
            c |= PageCategories.SoftDirty;
        return c;
    }

    /// <summary>make_uffd_wp_pte: present -> pte_mkuffd_wp; swap-format -> swap bit 2; none -> uffd-wp marker.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong MakeUffdWp(ulong e) =>
        LinuxPte.IsNone(e) ? PteMarker.UffdWp
        : LinuxPte.IsPresent(e) ? LinuxPte.MkUffdWp(e)
        : e | SwapEntry.UffdWp;

    /// <summary>The new entry and its categories (those of the old entry, as the scan reports them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong old, in ScanParams p, out PageCategories categories)
    {
        categories = Categorize(old, p);
        return p.WriteProtect && (categories & PageCategories.Written) != 0 ? MakeUffdWp(old) : old;
    }
}
