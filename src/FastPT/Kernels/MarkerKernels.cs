namespace FastPT.Kernels;

/// <summary>
/// Dispatch for the marker fill: every none entry of a run (a fresh table, or the holes of a
/// populated one) becomes a uffd-wp marker. Returns how many were written; never flushes
/// (a none entry was never in a TLB).
/// </summary>
public static unsafe class MarkerKernels
{
    public static long FillEmpty(ulong* entries, int count) =>
        FillEmpty<ExclusiveTables>(KernelIsas.Selected, entries, count);

    public static long FillEmpty<TMode>(KernelIsa isa, ulong* entries, int count)
        where TMode : struct, ITableWriteMode => isa switch
        {
            KernelIsa.Avx512 => MarkerFillVector512.Apply<TMode>(entries, count),
            KernelIsa.Avx2 => MarkerFillVector256.Apply<TMode>(entries, count),
            KernelIsa.V128 => MarkerFillVector128.Apply<TMode>(entries, count),
            _ => MarkerFillScalar.Apply<TMode>(entries, count),
        };
}
