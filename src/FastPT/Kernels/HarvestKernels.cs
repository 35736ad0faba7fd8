using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// Dispatch for the bit-move kernel: for each present (P=1) entry with the <c>from</c> bit set,
/// sets bit i of <c>moved</c>, clears <c>from</c> in the entry and sets <c>to</c>; every other
/// bit of the entry is kept. Returns how many entries moved. An A/D harvest is a move to
/// nothing; the raw-table write-protect moves RW to the write-protect bit (10) and unprotect
/// moves it back, so an entry that was read-only before is never made writable. In shared
/// tables the change is atomic per entry, so a bit a walker sets after the read is kept.
/// Flush bits follow pte_needs_flush for each entry's old and new value (a cleared D or a
/// changed RW flushes, A and the software bits do not).
/// </summary>
internal static unsafe class HarvestKernels
{
    internal const ulong Present = Pte.Present;

    public static long Harvest(ulong* entries, int count, HarvestBit which, Span<ulong> harvested, Span<ulong> flush) =>
        Harvest<ExclusiveTables>(KernelIsas.Selected, entries, count, which, harvested, flush);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Harvest<TMode>(KernelIsa isa, ulong* entries, int count, HarvestBit which, Span<ulong> harvested, Span<ulong> flush)
        where TMode : struct, ITableWriteMode =>
        Move<TMode>(isa, entries, count, which == HarvestBit.Dirty ? Pte.Dirty : Pte.Accessed, 0, harvested, flush);

    /// <param name="from">The bit that selects and leaves an entry (one bit, never P).</param>
    /// <param name="to">Bits set in every entry that moved (0 for a harvest).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Move<TMode>(KernelIsa isa, ulong* entries, int count, ulong from, ulong to, Span<ulong> moved, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        return isa switch
        {
            KernelIsa.Avx512 => HarvestVector512.Apply<TMode>(entries, count, from, to, moved, flush),
            KernelIsa.Avx2 => HarvestVector256.Apply<TMode>(entries, count, from, to, moved, flush),
            KernelIsa.V128 => HarvestVector128.Apply<TMode>(entries, count, from, to, moved, flush),
            _ => HarvestScalar.Apply<TMode>(entries, count, from, to, moved, flush),
        };
    }
}
