using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>
/// Dispatch for the change-protection kernel over a run of PTEs. The scalar loop is the
/// reference; SIMD versions produce identical entries, counts and flush masks.
/// </summary>
internal static unsafe class ChangeProtectionKernels
{
    /// <summary>
    /// Applies the rule to <paramref name="count"/> entries with the process's ISA, exclusive
    /// tables; returns how many Linux would count; sets bit i of <paramref name="flush"/> when
    /// entry i needs a TLB flush.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush) =>
        Apply<ExclusiveTables>(KernelIsas.Selected, entries, count, p, flush);

    /// <summary>As <see cref="Apply(ulong*, int, in ChangeProtectionParams, Span{ulong})"/>, for tables concurrent walkers update.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long ApplyShared(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush) =>
        Apply<SharedTables>(KernelIsas.Selected, entries, count, p, flush);

    /// <summary>A chosen ISA and write mode (tests and benchmarks run every path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(KernelIsa isa, ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        System.Diagnostics.Debug.Assert(count >= 0 && count <= 512 && flush.Length >= (count + 63) / 64);
        return isa switch
        {
            KernelIsa.Avx512 => ChangeProtectionVector512.Apply<TMode>(entries, count, p, flush),
            KernelIsa.Avx2 => ChangeProtectionVector256.Apply<TMode>(entries, count, p, flush),
            KernelIsa.V128 => ChangeProtectionVector128.Apply<TMode>(entries, count, p, flush),
            _ => ChangeProtectionScalar.Apply<TMode>(entries, count, p, flush),
        };
    }

    /// <summary>
    /// As <see cref="Apply{TMode}(KernelIsa, ulong*, int, in ChangeProtectionParams, Span{ulong})"/> with a memo
    /// kept across runs of one operation (same params): uniform vectors take a compare-and-blend path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static long Apply<TMode>(KernelIsa isa, ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush, ref ChangeProtectionMemo memo)
        where TMode : struct, ITableWriteMode
    {
        System.Diagnostics.Debug.Assert(count >= 0 && count <= 512 && flush.Length >= (count + 63) / 64);
        return isa switch
        {
            KernelIsa.Avx512 => ChangeProtectionVector512.Apply<TMode>(entries, count, p, flush, ref memo),
            KernelIsa.Avx2 => ChangeProtectionVector256.Apply<TMode>(entries, count, p, flush, ref memo),
            KernelIsa.V128 => ChangeProtectionVector128.Apply<TMode>(entries, count, p, flush, ref memo),
            _ => ChangeProtectionScalar.Apply<TMode>(entries, count, p, flush),
        };
    }

    /// <summary>The scalar reference loop, exclusive tables.</summary>
    public static long Scalar(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush) =>
        ChangeProtectionScalar.Apply<ExclusiveTables>(entries, count, p, flush);
}
