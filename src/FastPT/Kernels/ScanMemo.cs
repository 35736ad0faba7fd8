using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// The scan's answer for one present, non-special entry pattern, so a vector whose lanes all
/// match it is one compare: the scan reads nothing else of such an entry (categories come
/// from bits 10 and 11, the flush from RW and D), so every lane matching
/// <c>(e &amp; Key) == Value</c> has the same categories, the same keep decision and, under
/// WP_MATCHING, the same change: <c>(e &amp; ~Clear) | Set</c>.
/// </summary>
internal readonly struct ScanMemo
{
    /// <summary>The bits that decide a present entry's scan outcome (P, RW, D, special, uffd-wp, soft-dirty).</summary>
    public const ulong Key = Pte.Present | Pte.Writable | Pte.Dirty | Pte.Special | Pte.UffdWp | Pte.SoftDirty;

    public bool Valid { get; init; }
    public ulong Value { get; init; }
    /// <summary>The request keeps these pages; what it reports of each.</summary>
    public bool Kept { get; init; }
    public ushort Reported { get; init; }
    public bool StoresCategories { get; init; }
    /// <summary>WP_MATCHING write-protects them: pte_mkuffd_wp as a clear and a set.</summary>
    public bool Protects { get; init; }
    public ulong Clear { get; init; }
    public ulong Set { get; init; }
    /// <summary>The write-protect clears RW or D, so a TLB may hold the old entry.</summary>
    public bool Flushes { get; init; }

    /// <summary>The memo for entries like <paramref name="e"/> (present, P=1, not special), derived from the rule itself.</summary>
    public static ScanMemo For(ulong e, in ScanParams p)
    {
        System.Diagnostics.Debug.Assert((e & (Pte.Present | Pte.Special)) == Pte.Present);
        var c = ScanRule.Categorize(e, p);
        bool kept = p.Keeps(c);
        bool protects = kept && p.WriteProtect && (c & PageCategories.Written) != 0;
        ulong dirty = e & Pte.Dirty;
        ulong clear = Pte.Writable | dirty, set = Pte.UffdWp | (dirty << 52);
        System.Diagnostics.Debug.Assert(!protects || ScanRule.MakeUffdWp(e) == ((e & ~clear) | set));
        return new ScanMemo
        {
            Valid = true,
            Value = e & Key,
            Kept = kept,
            Reported = (ushort)(c & p.Return),
            StoresCategories = !p.SkipCategories,
            Protects = protects,
            Clear = clear,
            Set = set,
            Flushes = protects && (e & (Pte.Writable | Pte.Dirty)) != 0,
        };
    }
}
