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
    /// for a run whose other entries are known to hold nothing the scan keeps or changes: one
    /// <see cref="ApplyWord{TMode}"/> per word.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long ApplyAt<TMode>(ulong* entries, ReadOnlySpan<ulong> which, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        var rule = new WordRule(p, TMode.Shared);
        long n = 0;
        for (int w = 0; w < which.Length; w++)
        {
            ulong flushWord = 0;
            ulong keptWord = ApplyWord<TMode>(entries + (w << 6), which[w], p, rule, categories + (w << 6), ref flushWord);
            kept[w] |= keptWord;
            flush[w] |= flushWord;
            n += BitOperations.PopCount(keptWord);
        }
        return n;
    }

    /// <summary>What <see cref="ApplyWord{TMode}"/> needs of the params, worked out once per run.</summary>
    public readonly struct WordRule
    {
        public readonly bool Populated, WrittenOnly;
        public readonly ulong KeepWritten, KeepClean, Protect;
        public readonly ushort ReportWritten, ReportClean;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public WordRule(in ScanParams p, bool shared)
        {
            Populated = !shared && !p.TrackSoftDirty;
            var catsClean = p.VmaCategories | PageCategories.Present | p.NormalPageCategories;
            var catsWritten = catsClean | PageCategories.Written;
            KeepWritten = p.Keeps(catsWritten) ? ulong.MaxValue : 0;
            KeepClean = p.Keeps(catsClean) ? ulong.MaxValue : 0;
            Protect = p.WriteProtect && KeepWritten != 0 ? ulong.MaxValue : 0;
            ReportWritten = (ushort)(catsWritten & p.Return);
            ReportClean = (ushort)(catsClean & p.Return);
            WrittenOnly = KeepClean == 0 && Protect != 0; // dirty tracking's request: kept = written
        }
    }

    /// <summary>
    /// The rule at the entries <paramref name="bits"/> names among the 64 from
    /// <paramref name="at"/>. A present, non-special entry (what faults leave) is decided by its
    /// uffd-wp bit alone, as in the vector kernels' populated words; any other entry (and every
    /// entry of shared tables, or with soft-dirty) takes the rule. Returns the kept bits, adds
    /// the flushes owed to <paramref name="flushWord"/>, and writes the kept entries'
    /// categories from <paramref name="categories"/> (the word's first) unless the params skip them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ApplyWord<TMode>(ulong* at, ulong bits, in ScanParams p, in WordRule rule, ushort* categories, ref ulong flushWord)
        where TMode : struct, ITableWriteMode
    {
        ulong keptWord = 0, writtenWord = 0, others = bits;
        if (rule.Populated)
        {
            var bitsOnly = default(NoPages);
            others = rule.WrittenOnly
                ? WrittenWord(at, bits, 0, ref keptWord, ref flushWord, ref bitsOnly)
                : PopulatedWord(at, bits, rule.KeepWritten, rule.KeepClean, rule.Protect, ref keptWord, ref flushWord, ref writtenWord);
            writtenWord |= rule.WrittenOnly ? keptWord : 0;
        }
        if (!p.SkipCategories)
        {
            for (ulong k = keptWord; k != 0; k &= k - 1)
            {
                int b = BitOperations.TrailingZeroCount(k);
                categories[b] = (writtenWord & (1UL << b)) != 0 ? rule.ReportWritten : rule.ReportClean;
            }
        }
        if (others != 0)
            keptWord |= Others<TMode>(at, others, p, categories, ref flushWord);
        return keptWord;
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
    /// <see cref="ApplyWord{TMode}"/>'s present, non-special entries of one word in exclusive
    /// tables without soft-dirty, for dirty tracking's request (keep the written, protect them):
    /// a written page (uffd-wp clear) is protected (pte_mkuffd_wp: uffd-wp set, RW cleared, D
    /// moved to saved-dirty) and handed to <paramref name="pages"/> (the page at
    /// <paramref name="va"/> + i pages for bit i), and only RW and D, where set, owe a flush.
    /// Only the unusual entries are recorded, so the usual one costs a load, a test, a store and
    /// its page. Returns the bits of the entries for the rule (<see cref="Others{TMode}"/>);
    /// when there are any, <paramref name="pages"/> is left as it was, so that the caller can
    /// hand it the word's kept pages again in address order with those the rule keeps.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // a leaf: its state stays in registers
    public static ulong WrittenWord<TPages>(ulong* at, ulong bits, ulong va, ref ulong keptWord, ref ulong flushWord, ref TPages pages)
        where TPages : struct, IKeptPages
    {
        var sink = pages; // a local copy: its fields stay in registers
        ulong named = bits, skipped = 0, others = 0, clean = 0;
        for (; bits != 0; bits &= bits - 1)
        {
            nuint b = (nuint)ulong.TrailingZeroCount(bits); // an index without sign extension
            ulong e = at[b];
            if ((e & (Pte.Present | Pte.Special | Pte.UffdWp)) != Pte.Present)
            {
                skipped |= 1UL << (int)b;
                others |= (e & (Pte.Present | Pte.Special)) != Pte.Present ? 1UL << (int)b : 0;
                continue;
            }
            at[b] = LinuxPte.MkUffdWp(e);
            if ((e & (Pte.Writable | Pte.Dirty)) == 0)
                clean |= 1UL << (int)b;
            sink.Kept(va + (b << 12));
        }
        if (others == 0)
            pages = sink;
        keptWord = named & ~skipped;
        flushWord |= keptWord & ~clean;
        return others;
    }

    /// <summary>
    /// The rule at <see cref="ApplyWord{TMode}"/>'s other entries, out of line: its loop keeps
    /// its registers for the usual entry.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong Others<TMode>(ulong* at, ulong others, in ScanParams p, ushort* categories, ref ulong flushWord)
        where TMode : struct, ITableWriteMode
    {
        Span<ulong> kept = stackalloc ulong[1], flush = stackalloc ulong[1];
        kept[0] = 0;
        flush[0] = flushWord;
        for (; others != 0; others &= others - 1)
        {
            int b = BitOperations.TrailingZeroCount(others);
            One<TMode>(at + b, TMode.Shared ? Volatile.Read(ref at[b]) : at[b], p, categories + b, kept, b, flush);
        }
        flushWord = flush[0];
        return kept[0];
    }

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

/// <summary>Takes the pages a kernel keeps, one at a time in address order, as it keeps them.</summary>
internal interface IKeptPages
{
    void Kept(ulong va);
}

/// <summary>For callers that want only the kept bits.</summary>
internal struct NoPages : IKeptPages
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Kept(ulong va) { }
}
