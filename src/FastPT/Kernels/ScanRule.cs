using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// What PAGEMAP_SCAN needs to categorise, filter and report the pages of one VMA's PTE runs:
/// the VMA's own facts, the request's filter and return mask, and whether to write-protect
/// what is kept (PM_SCAN_WP_MATCHING).
/// </summary>
internal readonly record struct ScanParams
{
    /// <summary>No frame is the zero page (raw tables).</summary>
    public const ulong NoPfn = ulong.MaxValue;

    /// <summary>Categories every page of the VMA has (WPALLOWED, a VM_SOFTDIRTY VMA's SOFT_DIRTY).</summary>
    public PageCategories VmaCategories { get; init; }

    /// <summary>Categories a present page that is not special has (FILE in a shmem/file VMA: vm_normal_page is not anonymous).</summary>
    public PageCategories NormalPageCategories { get; init; }

    /// <summary>A none PTE counts as WRITTEN (the 2026 rule, on every VMA).</summary>
    public bool EmptyIsWritten { get; init; }

    /// <summary>Bit 11 (present) / swap bit 1 mean SOFT_DIRTY (false where CONFIG_MEM_SOFT_DIRTY is off: Linux never sets them).</summary>
    public bool TrackSoftDirty { get; init; }

    /// <summary>The shared zero page's frame: a special present entry of it is PFNZERO (<see cref="NoPfn"/>: none).</summary>
    public ulong ZeroPfn { get; init; }

    /// <summary>Keep a page iff ((c ^ Inverted) &amp; Mask) == Mask and (AnyOf == 0 or (c ^ Inverted) &amp; AnyOf != 0).</summary>
    public PageCategories Mask { get; init; }
    public PageCategories AnyOf { get; init; }
    public PageCategories Inverted { get; init; }

    /// <summary>What is reported of a kept page.</summary>
    public PageCategories Return { get; init; }

    /// <summary>PM_SCAN_WP_MATCHING: kept WRITTEN pages are write-protected in the same pass.</summary>
    public bool WriteProtect { get; init; }

    /// <summary>
    /// The caller reads no categories (every kept PTE reports the same, <see cref="UniformReport"/>):
    /// the kernels need not store them.
    /// </summary>
    public bool SkipCategories { get; init; }

    /// <summary>Category bits a PTE's own value can change (the rest come from the VMA, or are never set at PTE level).</summary>
    private const PageCategories EntryBits = PageCategories.Written | PageCategories.File | PageCategories.Present
        | PageCategories.Swapped | PageCategories.PfnZero | PageCategories.SoftDirty | PageCategories.Guard;

    /// <summary>
    /// What every kept PTE of this VMA reports when that cannot vary: the filter pins the bits
    /// of <see cref="Mask"/>, the VMA the rest, and <see cref="Return"/> hides the others
    /// (e.g. mask=written return=written). Null when kept PTEs may report differently.
    /// </summary>
    public PageCategories? UniformReport
    {
        get
        {
            var varying = EntryBits & Return & ~Mask;
            if (!TrackSoftDirty)
                varying &= ~PageCategories.SoftDirty;
            if (varying != 0)
                return null;
            // Kept pages have mask bits equal to ~Inverted there; VMA bits are fixed; Huge is never set on a PTE.
            var fixedBits = (Mask & ~Inverted & EntryBits) | VmaCategories;
            return fixedBits & Return;
        }
    }

    public ScanParams()
    {
        ZeroPfn = NoPfn;
        Return = PageCategories.All;
    }

    /// <summary>pagemap_scan_is_interesting_page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Keeps(PageCategories categories)
    {
        var c = categories ^ Inverted;
        return (c & Mask) == Mask && (AnyOf == PageCategories.None || (c & AnyOf) != 0);
    }
}

/// <summary>
/// The per-entry rule of PAGEMAP_SCAN's PTE walk (pagemap_page_category): a present entry is
/// PRESENT, WRITTEN unless bit 10, PFNZERO for a special entry of the zero page, plus the
/// VMA's normal-page categories (FILE) otherwise; a swap-format entry is SWAPPED, WRITTEN
/// unless pte_swp_uffd_wp_any (bit 2, or a uffd-wp marker), GUARD for a guard marker; a none
/// entry is WRITTEN when the VMA says so. Soft-dirty from bit 11 (present) or swap bit 1.
/// With WP_MATCHING a kept written entry is write-protected as make_uffd_wp_pte does.
/// </summary>
internal static class ScanRule
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
            if (p.TrackSoftDirty && (e & Pte.SoftDirty) != 0)
                c |= PageCategories.SoftDirty;
            if ((e & Pte.Special) == 0)
                c |= p.NormalPageCategories;
            else if (L1tf.Pfn(e) == p.ZeroPfn)
                c |= PageCategories.PfnZero;
            return c;
        }
        c |= PageCategories.Swapped;
        if (!LinuxPte.IsSwapUffdWpAny(e))
            c |= PageCategories.Written;
        if (PteMarker.IsGuard(e))
            c |= PageCategories.Guard;
        if (p.TrackSoftDirty && (e & SwapEntry.SoftDirty) != 0)
            c |= PageCategories.SoftDirty;
        return c;
    }

    /// <summary>make_uffd_wp_pte: present -> pte_mkuffd_wp; swap-format -> swap bit 2; none -> uffd-wp marker.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong MakeUffdWp(ulong e) =>
        LinuxPte.IsNone(e) ? PteMarker.UffdWp
        : LinuxPte.IsPresent(e) ? LinuxPte.MkUffdWp(e)
        : e | SwapEntry.UffdWp;

    /// <summary>
    /// One entry: its categories (before any change, as the scan reports them), whether the
    /// request keeps it, and its new value (write-protected when kept, written and WP_MATCHING).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong old, in ScanParams p, out PageCategories categories, out bool kept)
    {
        categories = Categorize(old, p);
        kept = p.Keeps(categories);
        return kept && p.WriteProtect && (categories & PageCategories.Written) != 0 ? MakeUffdWp(old) : old;
    }
}
