using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>
/// Dispatch for the zap kernel (MADV_DONTNEED / munmap over a run of PTEs, <see cref="ZapRule"/>).
/// Returns the entries that were present (pages unmapped); sets a flush bit for each, since
/// a TLB may hold any present entry (PROT_NONE ones included, as Linux's mmu_gather does).
/// </summary>
internal static unsafe class ZapKernels
{
    public static long Apply(ulong* entries, int count, in ZapParams p, Span<ulong> flush) =>
        Apply<ExclusiveTables>(KernelIsas.Selected, entries, count, p, flush);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]

    public static long Apply<TMode>(KernelIsa isa, ulong* entries, int count, in ZapParams p, Span<ulong> flush)
        where TMode : struct, ITableWriteMode => isa switch
        {
            KernelIsa.Avx512 => ZapVector512.Apply<TMode>(entries, count, p, flush),
            KernelIsa.Avx2 => ZapVector256.Apply<TMode>(entries, count, p, flush),
            KernelIsa.V128 => ZapVector128.Apply<TMode>(entries, count, p, flush),
            _ => ZapScalar.Apply<TMode>(entries, count, p, flush),
        };
}
