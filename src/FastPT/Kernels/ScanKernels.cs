using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>
/// Dispatch for PAGEMAP_SCAN's PTE kernel (<see cref="ScanRule"/>): for each entry of a run,
/// the reported categories (one word each, written for kept entries; others are undefined), a kept bit when the
/// request's filter matches, and under WP_MATCHING the kept written entries write-protected
/// with their flush bits. Returns how many entries were kept.
/// </summary>
internal static unsafe class ScanKernels
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(KernelIsa isa, ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        System.Diagnostics.Debug.Assert(count >= 0 && count <= 512 && kept.Length >= (count + 63) / 64 && flush.Length >= (count + 63) / 64);
        return isa switch
        {
            KernelIsa.Avx512 => ScanVector512.Apply<TMode>(entries, count, p, categories, kept, flush),
            KernelIsa.Avx2 => ScanVector256.Apply<TMode>(entries, count, p, categories, kept, flush),
            KernelIsa.V128 => ScanVector128.Apply<TMode>(entries, count, p, categories, kept, flush),
            _ => ScanScalar.Apply<TMode>(entries, count, p, categories, kept, flush),
        };
    }

    /// <summary>As above with a memo kept across the runs of one scan (same params): uniform stretches take the fast loop from the start.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(KernelIsa isa, ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush, ref ScanMemo memo)
        where TMode : struct, ITableWriteMode
    {
        System.Diagnostics.Debug.Assert(count >= 0 && count <= 512 && kept.Length >= (count + 63) / 64 && flush.Length >= (count + 63) / 64);
        return isa switch
        {
            KernelIsa.Avx512 => ScanVector512.Apply<TMode>(entries, count, p, categories, kept, flush, ref memo),
            KernelIsa.Avx2 => ScanVector256.Apply<TMode>(entries, count, p, categories, kept, flush, ref memo),
            KernelIsa.V128 => ScanVector128.Apply<TMode>(entries, count, p, categories, kept, flush, ref memo),
            _ => ScanScalar.Apply<TMode>(entries, count, p, categories, kept, flush),
        };
    }
}
