using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>The scalar A/D harvest: the twin of the vector kernels.</summary>
[SkipLocalsInit]
internal static unsafe class HarvestScalar
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, ulong bit, Span<ulong> harvested, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long n = 0;
        for (int i = 0; i < count; i++)
        {
            ulong old = TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i];
            if ((old & (Pte.Present | bit)) != (Pte.Present | bit))
                continue;
            if (TMode.Shared)
                old = TMode.And(entries + i, ~bit); // what was there when the bit went
            else
                entries[i] = old & ~bit;
            if ((old & (Pte.Present | bit)) != (Pte.Present | bit))
                continue;
            n++;
            KernelBits.Set(harvested, i);
            if (FlushRules.NeedsFlush(old, old & ~bit))
                KernelBits.Set(flush, i);
        }
        return n;
    }
}
