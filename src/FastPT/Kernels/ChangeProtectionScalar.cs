using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>
/// The scalar change-protection kernel: the per-entry rule in a loop. It is the twin every
/// vector kernel is tested against, and the fallback they use for rare entry kinds.
/// </summary>
[SkipLocalsInit]
internal static unsafe class ChangeProtectionScalar
{
    public static long Apply<TMode>(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush)
        where TMode : struct, ITableWriteMode =>
        Range<TMode>(entries, 0, count, p, flush);

    /// <summary>The narrowest vector kernel's fallback: the memo is only for vectors, so it is ignored.</summary>
    public static long Apply<TMode>(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush, ref ChangeProtectionMemo memo)
        where TMode : struct, ITableWriteMode =>
        Range<TMode>(entries, 0, count, p, flush);

    /// <summary>Entries [from, to) of the run; flush bits are indexed from <paramref name="entries"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Range<TMode>(ulong* entries, int from, int to, in ChangeProtectionParams p, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long changed = 0;
        for (int i = from; i < to; i++)
        {
            if (TMode.Shared)
            {
                changed += ApplyShared<TMode>(entries + i, Volatile.Read(ref entries[i]), p, i, flush);
                continue;
            }
            ulong old = entries[i];
            ulong v = ChangeProtectionRule.Apply(old, p, out bool counted);
            if (counted)
                changed++;
            if (v != old)
            {
                entries[i] = v;
                if (FlushRules.NeedsFlush(old, v))
                    KernelBits.Set(flush, i);
            }
        }
        return changed;
    }

    /// <summary>
    /// One entry of a shared table, starting from the value <paramref name="seen"/> read
    /// earlier: compare-exchange, and on failure (a walker set A/D meanwhile) apply the rule
    /// to what is there now, so no concurrently set bit is lost. Returns 1 if counted.
    /// </summary>
    public static int ApplyShared<TMode>(ulong* slot, ulong seen, in ChangeProtectionParams p, int index, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        while (true)
        {
            ulong v = ChangeProtectionRule.Apply(seen, p, out bool counted);
            if (v == seen)
                return counted ? 1 : 0;
            if (TableWrite.TryCommit<TMode>(slot, v, ref seen))
            {
                if (FlushRules.NeedsFlush(seen, v))
                    KernelBits.Set(flush, index);
                return counted ? 1 : 0;
            }
        }
    }
}
