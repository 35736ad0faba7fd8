using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>The low byte of each lane (all below 256), packed: one vpmovqb where AVX-512 has it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong LowBytes(Vector512<ulong> v)
    {
        if (Avx512F.IsSupported)
            return Avx512F.ConvertToVector128Byte(v).AsUInt64().ToScalar();
        var words = Vector512.Narrow(v, v);
        var halves = Vector512.Narrow(words, words);
        return Vector512.Narrow(halves, halves).AsUInt64().ToScalar();
    }

    /// <inheritdoc cref="LowBytes(Vector512{ulong})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong LowBytes(Vector256<ulong> v)
    {
        if (Avx512F.VL.IsSupported)
            return Avx512F.VL.ConvertToVector128Byte(v).AsUInt64().ToScalar();
        var words = Vector256.Narrow(v, v);
        var halves = Vector256.Narrow(words, words);
        return Vector256.Narrow(halves, halves).AsUInt64().ToScalar();
    }

    /// <inheritdoc cref="LowBytes(Vector512{ulong})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong LowBytes(Vector128<ulong> v)
    {
        if (Avx512F.VL.IsSupported)
            return Avx512F.VL.ConvertToVector128Byte(v).AsUInt64().ToScalar();
        var words = Vector128.Narrow(v, v);
        var halves = Vector128.Narrow(words, words);
        return Vector128.Narrow(halves, halves).AsUInt64().ToScalar();
    }

    /// <summary>Stores the low 16 bits of each lane (all below 65536) as consecutive words, lane 0 first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreLowWords(Vector512<ulong> v, ushort* to)
    {
        if (Avx512F.IsSupported)
        {
            Avx512F.ConvertToVector128UInt16(v).Store(to); // vpmovqw
            return;
        }
        var words = Vector512.Narrow(v, v);
        Vector512.Narrow(words, words).GetLower().GetLower().Store(to);
    }

    /// <inheritdoc cref="StoreLowWords(Vector512{ulong}, ushort*)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreLowWords(Vector256<ulong> v, ushort* to)
    {
        if (Avx512F.VL.IsSupported)
        {
            Unsafe.WriteUnaligned(to, Avx512F.VL.ConvertToVector128UInt16(v).AsUInt64().ToScalar());
            return;
        }
        var words = Vector256.Narrow(v, v);
        Unsafe.WriteUnaligned(to, Vector256.Narrow(words, words).AsUInt64().ToScalar());
    }

    /// <inheritdoc cref="StoreLowWords(Vector512{ulong}, ushort*)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreLowWords(Vector128<ulong> v, ushort* to)
    {
        to[0] = (ushort)v.GetElement(0);
        to[1] = (ushort)v.GetElement(1);
    }

    /// <summary>Sets bits [from, to) of a bit mask (from &lt; to).</summary>
    public static void SetRange(Span<ulong> mask, int from, int to)
    {
        int w = from >> 6, wEnd = (to - 1) >> 6;
        ulong head = ulong.MaxValue << (from & 63), tail = ulong.MaxValue >> (63 - ((to - 1) & 63));
        if (w == wEnd)
        {
            mask[w] |= head & tail;
            return;
        }
        mask[w] |= head;
        for (w++; w < wEnd; w++)
            mask[w] = ulong.MaxValue;
        mask[wEnd] |= tail;
    }

    /// <summary>Clears bits [from, to) of a bit mask (from &lt; to).</summary>
    public static void ClearRange(Span<ulong> mask, int from, int to)
    {
        int w = from >> 6, wEnd = (to - 1) >> 6;
        ulong head = ulong.MaxValue << (from & 63), tail = ulong.MaxValue >> (63 - ((to - 1) & 63));
        if (w == wEnd)
        {
            mask[w] &= ~(head & tail);
            return;
        }
        mask[w] &= ~head;
        for (w++; w < wEnd; w++)
            mask[w] = 0;
        mask[wEnd] &= ~tail;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(Span<ulong> mask, int index) => mask[index >> 6] |= 1UL << (index & 63);
}
