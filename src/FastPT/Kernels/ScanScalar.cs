using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>The scalar written-page scan: <see cref="ScanRule"/> in a loop; the twin of the vector kernels.</summary>
[SkipLocalsInit]
internal static unsafe class ScanScalar
{
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, byte* categories, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long written = 0;
        for (int i = 0; i < count; i++)
            written += One<TMode>(entries + i, TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i], p, categories + i, i, flush);
        return written;
    }

    /// <summary>One entry starting from <paramref name="seen"/>; shared tables retry until the exchange holds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int One<TMode>(ulong* slot, ulong seen, in ScanParams p, byte* category, int index, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        while (true)
        {
            ulong v = ScanRule.Apply(seen, p, out var c);
            if (v != seen)
            {
                if (!TableWrite.TryCommit<TMode>(slot, v, ref seen))
                    continue;
                if (FlushRules.NeedsFlush(seen, v))
                    KernelBits.Set(flush, index);
            }
            *category = (byte)c;
            return (c & PageCategories.Written) != 0 ? 1 : 0;
        }
    }
}
