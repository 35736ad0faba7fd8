using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>The scalar bit move (A/D harvest, write-protect, unprotect): the twin of the vector kernels.</summary>
[SkipLocalsInit]
internal static unsafe class HarvestScalar
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, ulong from, ulong to, Span<ulong> moved, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long n = 0;
        for (int i = 0; i < count; i++)
        {
            ulong old = TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i];
            if (!One<TMode>(entries + i, ref old, from, to))
                continue;
            n++;
            KernelBits.Set(moved, i);
            if (FlushRules.NeedsFlush(old, (old & ~from) | to))
                KernelBits.Set(flush, i);
        }
        return n;
    }

    /// <summary>
    /// Moves one entry last read as <paramref name="seen"/> if it is present with <paramref name="from"/>
    /// set. In shared tables the write is atomic against the value there now (an AND when nothing
    /// is set, a compare-exchange otherwise, both through the write mode so a test can race them), so an A/D bit a walker sets meanwhile is kept;
    /// <paramref name="seen"/> ends as the value the move replaced.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool One<TMode>(ulong* slot, ref ulong seen, ulong from, ulong to)
        where TMode : struct, ITableWriteMode
    {
        ulong want = HarvestKernels.Present | from;
        if ((seen & want) != want)
            return false;
        if (TMode.Shared && to == 0)
        {
            seen = TMode.And(slot, ~from); // what was there when the bit went
            return (seen & want) == want;
        }
        while (!TableWrite.TryCommit<TMode>(slot, (seen & ~from) | to, ref seen))
        {
            if ((seen & want) != want)
                return false;
        }
        return true;
    }
}
