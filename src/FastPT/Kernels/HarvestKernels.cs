using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>Which hardware-set bit a harvest collects and clears.</summary>
public enum HarvestBit
{
    /// <summary>D (bit 6): pages written since the last harvest; clearing it needs a TLB flush.</summary>
    Dirty,
    /// <summary>A (bit 5): pages used since the last harvest; clearing it needs no flush.</summary>
    Accessed,
}

/// <summary>How a harvest treats the caller's bitmap and huge leaves at the range's edges.</summary>
[Flags]
public enum HarvestFlags
{
    /// <summary>Overwrite the bitmap's bits for the range; never split.</summary>
    None = 0,
    /// <summary>OR into the caller's bitmap (merging harvests, as KVM's dirty log users do).</summary>
    Accumulate = 1 << 0,
    /// <summary>Split a huge leaf the range covers in part, so the edges are tracked per 4 KiB page (allocates tables).</summary>
    SplitPartialHuge = 1 << 1,
}

/// <summary>
/// Dispatch for the A/D harvest-and-clear kernel: for each present (P=1) entry with the bit
/// set, sets bit i of <paramref name="harvested"/> and clears the bit in the entry. Returns
/// how many were harvested. In shared tables the clear is an atomic AND, so a bit a walker
/// sets after the read is kept for the next harvest. Flush bits follow pte_needs_flush: a
/// cleared D flushes (the CPU would not set it again through a cached translation), A does not.
/// </summary>
public static unsafe class HarvestKernels
{
    public static long Harvest(ulong* entries, int count, HarvestBit which, Span<ulong> harvested, Span<ulong> flush) =>
        Harvest<ExclusiveTables>(KernelIsas.Selected, entries, count, which, harvested, flush);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]

    public static long Harvest<TMode>(KernelIsa isa, ulong* entries, int count, HarvestBit which, Span<ulong> harvested, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        ulong bit = which == HarvestBit.Dirty ? Pte.Dirty : Pte.Accessed;
        return isa switch
        {
            KernelIsa.Avx512 => HarvestVector512.Apply<TMode>(entries, count, bit, harvested, flush),
            KernelIsa.Avx2 => HarvestVector256.Apply<TMode>(entries, count, bit, harvested, flush),
            KernelIsa.V128 => HarvestVector128.Apply<TMode>(entries, count, bit, harvested, flush),
            _ => HarvestScalar.Apply<TMode>(entries, count, bit, harvested, flush),
        };
    }
}
