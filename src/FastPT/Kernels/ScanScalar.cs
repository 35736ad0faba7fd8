using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>The scalar PAGEMAP_SCAN PTE kernel: <see cref="ScanRule"/> in a loop; the twin of the vector kernels.</summary>
[SkipLocalsInit]
internal static unsafe class ScanScalar
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long n = 0;
        for (int i = 0; i < count; i++)
            n += One<TMode>(entries + i, TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i], p, categories + i, kept, i, flush);
        return n;
    }

    /// <summary>
    /// The rule at the entries <paramref name="which"/> names (bit i: entry i) and nowhere else,
    /// for a run whose other entries are known to hold nothing the scan keeps or changes. A
    /// present, non-special entry (what faults leave) is decided by its uffd-wp bit alone, as
    /// in the vector kernels' populated words, in a loop without a branch on it; any other
    /// entry (and every entry of shared tables, or with soft-dirty) takes the rule.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long ApplyAt<TMode>(ulong* entries, ReadOnlySpan<ulong> which, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        bool populated = !TMode.Shared && !p.TrackSoftDirty;
        var catsClean = p.VmaCategories | PageCategories.Present | p.NormalPageCategories;
        var catsWritten = catsClean | PageCategories.Written;
        ulong keepWritten = p.Keeps(catsWritten) ? ulong.MaxValue : 0, keepClean = p.Keeps(catsClean) ? ulong.MaxValue : 0;
        ulong protect = p.WriteProtect && keepWritten != 0 ? ulong.MaxValue : 0;
        ushort reportWritten = (ushort)(catsWritten & p.Return), reportClean = (ushort)(catsClean & p.Return);
        bool writtenOnly = keepClean == 0 && protect != 0; // dirty tracking's request: kept = written
        long n = 0;
        for (int w = 0; w < which.Length; w++)
        {
            ulong* at = entries + (w << 6);
            ulong keptWord = 0, flushWord = 0, writtenWord = 0, others = which[w];
            if (populated)
            {
                others = writtenOnly
                    ? WrittenWord(at, which[w], ref keptWord, ref flushWord)
                    : PopulatedWord(at, which[w], keepWritten, keepClean, protect, ref keptWord, ref flushWord, ref writtenWord);
                writtenWord |= writtenOnly ? keptWord : 0;
            }
            kept[w] |= keptWord;
            flush[w] |= flushWord;
            n += BitOperations.PopCount(keptWord);
            if (!p.SkipCategories)
            {
                for (ulong bits = keptWord; bits != 0; bits &= bits - 1)
                {
                    int b = BitOperations.TrailingZeroCount(bits);
                    categories[(w << 6) + b] = (writtenWord & (1UL << b)) != 0 ? reportWritten : reportClean;
                }
            }
            for (ulong bits = others; bits != 0; bits &= bits - 1)
            {
                int i = (w << 6) + BitOperations.TrailingZeroCount(bits);
                n += Other<TMode>(entries + i, TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i], p, categories + i, kept, i, flush);
            }
        }
        return n;
    }

    /// <summary>
    /// <see cref="ApplyAt{TMode}"/>'s entries of one word that are present and not special, in
    /// exclusive tables without soft-dirty: written (uffd-wp clear) or not decides each, without
    /// a branch on it; a written page is protected when kept (pte_mkuffd_wp: uffd-wp set, RW
    /// cleared, D moved to saved-dirty), and only RW and D, where set, owe a flush. Every entry
    /// read is stored back. Returns the bits of the other entries, for the rule.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a leaf: its accumulators stay in registers
    private static ulong PopulatedWord(ulong* at, ulong bits, ulong keepWritten, ulong keepClean, ulong protect,
        ref ulong keptWord, ref ulong flushWord, ref ulong writtenWord)
    {
        ulong kept = 0, flushes = 0, written = 0, others = 0;
        for (; bits != 0; bits &= bits - 1)
        {
            int b = BitOperations.TrailingZeroCount(bits);
            ulong e = at[b], bit = 1UL << b;
            ulong other = (e & (Pte.Present | Pte.Special)) != Pte.Present ? bit : 0;
            ulong w = (((~e) >> 10) & 1) << b & ~other;
            ulong change = w & protect;
            at[b] = change != 0 ? LinuxPte.MkUffdWp(e) : e;
            flushes |= (e & (Pte.Writable | Pte.Dirty)) != 0 ? change : 0;
            kept |= (w & keepWritten) | (bit & ~w & ~other & keepClean);
            written |= w;
            others |= other;
        }
        keptWord = kept;
        flushWord = flushes;
        writtenWord = written;
        return others;
    }

    /// <summary>
    /// <see cref="PopulatedWord"/> for dirty tracking's request (keep the written pages, protect
    /// them): an entry that is not written is left as it is, and the pages a rescan reads are
    /// the ones faults wrote since the last, so its branches go the same way nearly always.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static ulong WrittenWord(ulong* at, ulong bits, ref ulong keptWord, ref ulong flushWord)
    {
        ulong kept = 0, flushes = 0, others = 0;
        for (; bits != 0; bits &= bits - 1)
        {
            int b = BitOperations.TrailingZeroCount(bits);
            ulong e = at[b];
            if ((e & (Pte.Present | Pte.Special | Pte.UffdWp)) != Pte.Present)
            {
                others |= (e & (Pte.Present | Pte.Special)) != Pte.Present ? 1UL << b : 0;
                continue;
            }
            at[b] = LinuxPte.MkUffdWp(e);
            kept |= 1UL << b;
            if ((e & (Pte.Writable | Pte.Dirty)) != 0)
                flushes |= 1UL << b;
        }
        keptWord = kept;
        flushWord = flushes;
        return others;
    }

    /// <summary><see cref="One{TMode}"/> out of line: <see cref="ApplyAt{TMode}"/>'s loop keeps its registers for the usual entry.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Other<TMode>(ulong* slot, ulong seen, in ScanParams p, ushort* category, Span<ulong> kept, int index, Span<ulong> flush)
        where TMode : struct, ITableWriteMode =>
        One<TMode>(slot, seen, p, category, kept, index, flush);

    /// <summary>The narrowest vector kernel's fallback: the memo is only for vectors, so it is ignored.</summary>
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush, ref ScanMemo memo)
        where TMode : struct, ITableWriteMode =>
        Apply<TMode>(entries, count, p, categories, kept, flush);

    /// <summary>One entry starting from <paramref name="seen"/>; shared tables retry until the exchange holds. Returns 1 if kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int One<TMode>(ulong* slot, ulong seen, in ScanParams p, ushort* category, Span<ulong> kept, int index, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        while (true)
        {
            ulong v = ScanRule.Apply(seen, p, out var c, out bool keep);
            if (v != seen)
            {
                if (!TableWrite.TryCommit<TMode>(slot, v, ref seen))
                    continue;
                if (FlushRules.NeedsFlush(seen, v))
                    KernelBits.Set(flush, index);
            }
            if (!keep)
                return 0;
            if (!p.SkipCategories)
                *category = (ushort)(c & p.Return);
            KernelBits.Set(kept, index);
            return 1;
        }
    }
}
