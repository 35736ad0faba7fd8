using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>The scalar PAGEMAP_SCAN PTE kernel: <see cref="ScanRule"/> in a loop; the twin of the vector kernels.</summary>
[SkipLocalsInit]
internal static unsafe class ScanScalar
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long n = 0;
        for (int i = 0; i < count; i++)
            n += One<TMode>(entries + i, TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i], p, categories + i, kept, i, flush);
        return n;
    }

    /// <summary>The narrowest vector kernel's fallback: the memo is only for vectors, so it is ignored.</summary>
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush, ref ScanMemo memo)
        where TMode : struct, ITableWriteMode =>
        Apply<TMode>(entries, count, p, categories, kept, flush);

    /// <summary>One entry starting from <paramref name="seen"/>; shared tables retry until the exchange holds. Returns 1 if kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int One<TMode>(ulong* slot, ulong seen, in ScanParams p, ushort* category, Span<ulong> kept, int index, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        while (true)
        {
            ulong v = ScanRule.Apply(seen, p, out var c, out bool keep);
            if (v != seen)
            {
                if (!TableWrite.TryCommit<TMode>(slot, v, ref seen))
                    continue;
                if (FlushRules.NeedsFlush(seen, v))
                    KernelBits.Set(flush, index);
            }
            if (!keep)
                return 0;
            if (!p.SkipCategories)
                *category = (ushort)(c & p.Return);
            KernelBits.Set(kept, index);
            return 1;
        }
    }
}
