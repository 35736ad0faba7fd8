using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>Helpers the kernels share for their per-entry bit masks (bit i = entry i of the run).</summary>
internal static class KernelBits
{
    /// <summary>ORs a lane mask for entries [start, start + lanes) into a 512-bit mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Or(Span<ulong> mask, int start, ulong bits)
    {
        if (bits == 0)
            return;
        int shift = start & 63;
        mask[start >> 6] |= bits << shift;
        // A tail vector that overlaps its predecessor may start unaligned and straddle two words.
        if (shift != 0 && (bits >> (64 - shift)) != 0)
            mask[(start >> 6) + 1] |= bits >> (64 - shift);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(Span<ulong> mask, int index) => mask[index >> 6] |= 1UL << (index & 63);
}
