namespace FastPT.Entries;

/// <summary>
/// L1TF hardening (pgprot-invert): a non-zero entry with P=0 stores its PFN
/// one's-complemented so a speculative walk cannot reach real memory.
/// </summary>
public static class L1tf
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

    /// <summary>flip_protnone_guard: re-invert when old and new disagree about inversion.</summary>
    /// <param name="pfnMask">The frame bits of the entry's size (huge leaves invert only theirs).</param>
    public static ulong FlipIfCrossing(ulong oldValue, ulong newValue, ulong pfnMask = Pte.PfnMask) =>
        NeedsInvert(oldValue) != NeedsInvert(newValue) ? newValue ^ pfnMask : newValue;
}
