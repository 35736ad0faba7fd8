namespace FastPT.Kernels;

/// <summary>
/// Dispatch for the written-page scan (PAGEMAP_SCAN's PTE walk, <see cref="ScanRule"/>): writes
/// one category byte per entry, write-protects written entries when asked, returns how many
/// entries were written, and sets flush bits for write-protected entries a TLB may hold.
/// </summary>
public static unsafe class ScanKernels
{
    public static long Apply(ulong* entries, int count, in ScanParams p, Span<byte> categories, Span<ulong> flush) =>
        Apply<ExclusiveTables>(KernelIsas.Selected, entries, count, p, categories, flush);

    public static long Apply<TMode>(KernelIsa isa, ulong* entries, int count, in ScanParams p, Span<byte> categories, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        if (categories.Length < count)
            throw new ArgumentException($"categories holds {categories.Length} bytes but the run has {count} entries; pass one byte per entry", nameof(categories));
        fixed (byte* c = categories)
        {
            return isa switch
            {
                KernelIsa.Avx512 => ScanVector512.Apply<TMode>(entries, count, p, c, flush),
                KernelIsa.Avx2 => ScanVector256.Apply<TMode>(entries, count, p, c, flush),
                KernelIsa.V128 => ScanVector128.Apply<TMode>(entries, count, p, c, flush),
                _ => ScanScalar.Apply<TMode>(entries, count, p, c, flush),
            };
        }
    }
}
