namespace FastPT.Entries;

/// <summary>
/// Linux 6.12's x86-64 PTE helpers as pure functions on entry values
/// (pte_none, pte_present, pte_modify, pte_wrprotect, pte_mkuffd_wp, ...).
/// </summary>
internal static class LinuxPte
{
    public static bool IsNone(ulong v) => (v & ~Pte.KnlErratumMask) == 0;

    public static bool IsPresent(ulong v) => (v & (Pte.Present | Pte.ProtNone)) != 0;

    /// <summary>pmd_present also counts PSE, so a splitting huge pmd stays "present".</summary>
    public static bool IsPmdPresent(ulong v) => (v & (Pte.Present | Pte.ProtNone | Pte.PageSize)) != 0;

    public static bool IsProtNone(ulong v) => (v & (Pte.Present | Pte.ProtNone)) == Pte.ProtNone;

    public static bool IsSwap(ulong v) => !IsNone(v) && !IsPresent(v);

    public static EntryKind Classify(ulong v) =>
        IsNone(v) ? EntryKind.None
        : IsPresent(v) ? EntryKind.Present
        : SwapEntry.Type(v) == PteMarker.SwapType ? EntryKind.Marker
        : EntryKind.Swap;

    public static bool IsWritable(ulong v) => (v & Pte.Writable) != 0;

    /// <summary>pte_dirty (6.6+): D or saved-dirty.</summary>
    public static bool IsDirty(ulong v) => (v & (Pte.Dirty | Pte.SavedDirty)) != 0;

    public static bool IsUffdWp(ulong v) => (v & Pte.UffdWp) != 0;

    /// <summary>
    /// pte_swp_uffd_wp_any: a swap-format entry with bit 2, or a uffd-wp marker. Bit 2 counts
    /// on markers too: the seed-era change_pte_range set it on non-uffd-wp markers.
    /// </summary>
    public static bool IsSwapUffdWpAny(ulong v) =>
        IsSwap(v) && ((v & SwapEntry.UffdWp) != 0 || PteMarker.IsUffdWp(v));

    /// <summary>If RW=0, move D into saved-dirty (mksaveddirty_shift).</summary>
    public static ulong MoveDirtyToSaved(ulong v) =>
        (v & Pte.Writable) != 0 ? v : (v & ~Pte.Dirty) | ((v & Pte.Dirty) << 52);

    /// <summary>If RW=1, move saved-dirty back into D (clear_saveddirty_shift).</summary>
    public static ulong MoveSavedToDirty(ulong v) =>
        (v & Pte.Writable) == 0 ? v : (v & ~Pte.SavedDirty) | ((v & Pte.SavedDirty) >> 52);

    /// <summary>pte_wrprotect (6.6+): clears RW and moves D to saved-dirty (<see cref="MoveDirtyToSaved"/> of a read-only entry, without its branch).</summary>
    public static ulong Wrprotect(ulong v) => (v & ~(Pte.Writable | Pte.Dirty)) | ((v & Pte.Dirty) << 52);

    /// <summary>pte_mkwrite for a non-shadow-stack VMA.</summary>
    public static ulong MkWrite(ulong v) => MoveSavedToDirty(v | Pte.Writable);

    public static ulong MkDirty(ulong v) => MoveDirtyToSaved(v | Pte.Dirty | Pte.SoftDirty);

    public static ulong MkClean(ulong v) => v & ~(Pte.Dirty | Pte.SavedDirty);

    public static ulong MkYoung(ulong v) => v | Pte.Accessed;

    /// <summary>pte_mkuffd_wp (6.5+): sets bit 10 and write-protects.</summary>
    public static ulong MkUffdWp(ulong v) => Wrprotect(v | Pte.UffdWp);

    public static ulong ClearUffdWp(ulong v) => v & ~Pte.UffdWp;

    /// <summary>
    /// pte_modify: keep the _PAGE_CHG_MASK bits of the old entry, take the rest from
    /// newprot; re-flip an L1TF-inverted PFN when the entry crosses present/PROT_NONE;
    /// then the 6.6+ saved-dirty rules.
    /// </summary>
    /// <remarks>The L1TF flip covers the 4 KiB frame (bits 12..51): use <see cref="ModifyHuge"/> or
    /// <see cref="ModifyPud"/> for large leaves, whatever change mask they need.</remarks>
    public static ulong Modify(ulong old, ulong newprot, ulong changeMask = PgProt.ChangeMask) =>
        Modify(old, newprot, changeMask, Pte.PfnMask);

    private static ulong Modify(ulong old, ulong newprot, ulong changeMask, ulong frameMask)
    {
        ulong v = (old & changeMask) | (newprot & ~changeMask);
        v = L1tf.FlipIfCrossing(old, v, frameMask);
        if ((old & Pte.Writable) != 0)
            v = MoveDirtyToSaved(v);
        else
            v = MoveSavedToDirty(v);
        return v;
    }

    /// <summary>
    /// pmd_modify (2 MiB leaf): pte_modify with the huge-page change mask; the L1TF flip
    /// covers only the 2 MiB frame bits (PHYSICAL_PMD_PAGE_MASK), never PAT_LARGE (bit 12).
    /// Keeps D like pte_modify (the shadow-stack era pmd_modify dropped it: the MADV_FREE data-loss bug
    /// fixed by "x86/mm: Fix user-space data loss with MADV_FREE and THP").
    /// </summary>
    public static ulong ModifyHuge(ulong old, ulong newprot) => Modify(old, newprot, PgProt.HugeChangeMask, Pte.Pfn2MMask);

    /// <summary>pud_modify (1 GiB leaf): as pmd_modify, flipping PHYSICAL_PUD_PAGE_MASK.</summary>
    public static ulong ModifyPud(ulong old, ulong newprot) => Modify(old, newprot, PgProt.HugeChangeMask, Pte.Pfn1GMask);
}
