using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// The change-protection rule's answer for one entry pattern, so a vector whose lanes all
/// match it is a compare and one bitwise op. Tables are mostly uniform (a run of pages
/// mapped with one prot, all written or all protected), so one memo serves most vectors.
/// <para>
/// A lane matches when <c>(e &amp; Mask) == Value</c>; its new value is
/// <c>(e &amp; Pass) | Out</c>. For a present entry (P=1, newprot with P) the pass bits
/// are those no step of the rule reads or writes (PFN, PWT, PCD, A, PAT, soft-dirty,
/// devmap): pte_modify keeps them and no flip applies. Any other entry is memoised
/// exactly (Mask = all bits, Pass = 0). Tied to one <see cref="ChangeProtectionParams"/>:
/// the op that owns the params owns the memo.
/// </para>
/// </summary>
internal struct ChangeProtectionMemo
{
    /// <summary>Bits of a present entry the rule copies unchanged when newprot has P.</summary>
    public const ulong PresentPassBits = Pte.PfnMask | Pte.WriteThrough | Pte.CacheDisable | Pte.Accessed
        | Pte.Pat4K | Pte.SoftDirty | Pte.DevMap;

    public bool Valid;
    public ulong Mask, Value, Pass, Out;
    /// <summary>Linux counts a matching entry / it needs a TLB flush / it changes.</summary>
    public bool Counted, Flush, Writes;

    /// <summary>The memo for entries like <paramref name="e"/>; derived from the scalar rule itself.</summary>
    public static ChangeProtectionMemo For(ulong e, in ChangeProtectionParams p)
    {
        ulong pass = (e & Pte.Present) != 0 && (p.NewProt & Pte.Present) != 0 ? PresentPassBits : 0;
        ulong v = ChangeProtectionRule.Apply(e, p, out bool counted);
        if (pass != 0)
        {
            // Cheap guard against a future rule that reads a pass bit: flipping them all must
            // flip exactly them in the result and change nothing else. Otherwise memoise exactly.
            ulong f = e ^ pass;
            ulong fv = ChangeProtectionRule.Apply(f, p, out bool fCounted);
            if (fv != (v ^ pass) || fCounted != counted || FlushRules.NeedsFlush(f, fv) != FlushRules.NeedsFlush(e, v))
                pass = 0;
        }
        return new ChangeProtectionMemo
        {
            Valid = true,
            Mask = ~pass,
            Value = e & ~pass,
            Pass = pass,
            Out = v & ~pass,
            Counted = counted,
            Writes = v != e,
            Flush = v != e && FlushRules.NeedsFlush(e, v),
        };
    }
}
