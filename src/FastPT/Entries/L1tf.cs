namespace FastPT.Entries;

/// <summary>
/// L1TF hardening (pgprot-invert): a non-zero entry with P=0 stores its PFN
/// one's-complemented so a speculative walk cannot reach real memory.
/// </summary>
internal static class L1tf
{
    public static bool NeedsInvert(ulong v) => v != 0 && (v & Pte.Present) == 0;

    /// <summary>pfn_pte: build an entry for a PFN and pgprot, inverting the PFN for non-present pgprots.</summary>
    public static ulong PfnEntry(ulong pfn, ulong pgprot)
    {
        ulong pa = (pfn << 12) & Pte.PfnMask;
        if (NeedsInvert(pgprot))
            pa ^= Pte.PfnMask;
        return pa | (pgprot & ~Pte.PfnMask);
    }

    /// <summary>pte_pfn: undo the inversion.</summary>
    public static ulong Pfn(ulong v)
    {
        ulong pa = v & Pte.PfnMask;
        if (NeedsInvert(v))
            pa ^= Pte.PfnMask;
        return pa >> 12;
    }

    /// <summary>
    /// flip_protnone_guard: re-invert the frame bits when old and new disagree about
    /// inversion. <paramref name="frameMask"/> is the frame field of the entry's size
    /// (bits 12..51 for a PTE, 21..51 for a 2 MiB leaf, 30..51 for a 1 GiB leaf), so the
    /// large-page PAT bit and the reserved bits below the frame are never touched.
    /// </summary>
    public static ulong FlipIfCrossing(ulong oldValue, ulong newValue, ulong frameMask = Pte.PfnMask) =>
        NeedsInvert(oldValue) != NeedsInvert(newValue) ? newValue ^ frameMask : newValue;
}
