using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// Linux's x86 pte_needs_flush: may a TLB still hold a translation that the change from
/// old to new made wrong? Non-present old entries were never cached; otherwise a PFN
/// change, P/D going 1 to 0 (A is ignored, as for change_protection), or a change of a
/// bit the hardware interprets needs a flush; software bits never do.
/// </summary>
internal static class FlushRules
{
    public const ulong FlushOnClear = Pte.Present | Pte.Dirty;
    public const ulong FlushOnChange = Pte.Writable | Pte.User | Pte.WriteThrough | Pte.CacheDisable
        | Pte.PageSize | Pte.Global | Pte.PatLarge | Pte.PkeyMask | Pte.NoExecute;
    public const ulong SoftwareBits = Pte.Special | Pte.UffdWp | Pte.SoftDirty | Pte.DevMap | Pte.SavedDirty;
    /// <summary>Bits 52-56: ignored by the CPU but unknown to Linux, which flushes to be safe.</summary>
    public const ulong UnknownBits = ~(FlushOnClear | Pte.Accessed | FlushOnChange | SoftwareBits | Pte.PfnMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NeedsFlush(ulong oldValue, ulong newValue)
    {
        if ((oldValue & Pte.Present) == 0)
            return false;
        ulong diff = oldValue ^ newValue;
        // The old entry is present, so its PFN is not inverted; an inverted new one differs in PFN
        // bits but also clears P, which flushes anyway.
        return (diff & Pte.PfnMask & ~Pte.PatLarge) != 0
            || (diff & oldValue & FlushOnClear) != 0
            || (diff & (FlushOnChange | UnknownBits)) != 0;
    }
}
