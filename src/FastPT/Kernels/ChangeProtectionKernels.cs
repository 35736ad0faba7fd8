namespace FastPT.Kernels;

/// <summary>
/// Dispatch for the change-protection kernel over a run of PTEs. The scalar loop is the
/// reference; SIMD versions must produce identical entries, counts and flush masks.
/// </summary>
public static unsafe class ChangeProtectionKernels
{
    /// <summary>Applies the rule to count entries; returns how many Linux would count; sets flush bits.</summary>
    public static long Apply(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush) =>
        Scalar(entries, count, p, flush);

    public static long Scalar(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush)
    {
        long changed = 0;
        for (int i = 0; i < count; i++)
        {
            ulong old = entries[i];
            ulong v = ChangeProtectionRule.Apply(old, p, out bool counted);
            if (counted)
                changed++;
            if (v != old)
            {
                entries[i] = v;
                if (FlushRules.NeedsFlush(old, v))
                    flush[i >> 6] |= 1UL << i;
            }
        }
        return changed;
    }
}
