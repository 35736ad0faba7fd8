using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>The scalar zap kernel: <see cref="ZapRule"/> in a loop; the twin of the vector kernels.</summary>
[SkipLocalsInit]
internal static unsafe class ZapScalar
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, in ZapParams p, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long unmapped = 0;
        for (int i = 0; i < count; i++)
            unmapped += One<TMode>(entries + i, TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i], p, i, flush);
        return unmapped;
    }

    /// <summary>One entry starting from the value <paramref name="seen"/>; shared tables retry until the exchange holds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int One<TMode>(ulong* slot, ulong seen, in ZapParams p, int index, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        while (true)
        {
            ulong v = ZapRule.Apply(seen, p, out bool unmapped);
            if (v != seen)
            {
                if (!TableWrite.TryCommit<TMode>(slot, v, ref seen))
                    continue;
            }
            if (unmapped)
                KernelBits.Set(flush, index);
            return unmapped ? 1 : 0;
        }
    }
}
