using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FastPT.Entries;
using Narrower = FastPT.Kernels.ScanVector256;
using Vec = System.Runtime.Intrinsics.Vector512;
using VecU = System.Runtime.Intrinsics.Vector512<ulong>;

namespace FastPT.Kernels;

/// <summary>
/// PAGEMAP_SCAN over a run of PTEs, one vector per step: categories in lanes, the request's
/// filter as lane compares, reported categories narrowed to one word per entry, and
/// WP_MATCHING on the kept written lanes. A run of entries that differ only in bits the
/// scan ignores (a populated table, all written or all protected) has one category, so
/// such groups take a loop that tests four vectors against a memo per branch. The last
/// partial vector overlaps its predecessor with the done lanes masked off (write-protecting
/// changes categories, so no lane is seen twice).
/// </summary>
[SkipLocalsInit]
internal static unsafe class ScanVector512
{
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        var memo = default(ScanMemo);
        return Apply<TMode>(entries, count, p, categories, kept, flush, ref memo);
    }

    /// <summary>As above with a memo that outlives the call (the op's, for one set of params): the next run starts in the fast loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush, ref ScanMemo memo)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        if (count < n)
            return Narrower.Apply<TMode>(entries, count, p, categories, kept, flush, ref memo);
        long found = 0;
        int i = 0;
        // Exclusive tables without soft-dirty take populated tables a word at a time; the
        // vector loops below then only see the word that stopped it, or the run's tail.
        bool words = !TMode.Shared && !p.TrackSoftDirty;
        while (i < count)
        {
            if (words && (i & 63) == 0)
            {
                i = PopulatedWords(entries, i, count, p, categories, kept, flush, ref found);
                if (i == count)
                    break;
            }
            int end = words ? Math.Min(count, (i & ~63) + 64) : count;
            if (!TMode.Shared && memo.Valid)
            {
                i = MemoRun(entries, i, end - n, categories, kept, flush, memo, ref found);
                if (i == end)
                    continue;
            }
            i = General<TMode>(entries, i, end, p, categories, kept, flush, ref memo, ref found);
        }
        return found;
    }

    /// <summary>
    /// Whole 64-entry words from <paramref name="i"/> (a multiple of 64) while every entry is
    /// present (P=1) and not special, as in the tables faults populate. Such an entry is
    /// written (bit 10 clear) or not, and that alone decides its categories, its keep and its
    /// change, so a vector is one compare: the word's kept and flush bits gather in registers
    /// and, under WP_MATCHING, the written lanes are protected with one store per vector. A
    /// word is first tested for "every entry present, not special, protected" with one
    /// AND-XOR per vector, four vectors a step (an idle rescan stops there and stores
    /// nothing); otherwise the pass over its vectors (from L1 by then) stops before a vector
    /// holding any other entry. Returns where it stopped: the vector loops take over there.
    /// Exclusive tables, soft-dirty untracked.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int PopulatedWords(ulong* entries, int i, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush,
        ref long foundTotal)
    {
        int n = VecU.Count;
        VecU zero = VecU.Zero;
        VecU presentSpecial = Vec.Create(Pte.Present | Pte.Special), present = Vec.Create(Pte.Present);
        VecU idleKey = Vec.Create(Pte.Present | Pte.Special | Pte.UffdWp), idle = Vec.Create(Pte.Present | Pte.UffdWp);
        VecU uffdWp = Vec.Create(Pte.UffdWp), writable = Vec.Create(Pte.Writable), dirty = Vec.Create(Pte.Dirty);
        VecU writableOrDirty = Vec.Create(Pte.Writable | Pte.Dirty);
        var catsClean = p.VmaCategories | PageCategories.Present | p.NormalPageCategories;
        var catsWritten = catsClean | PageCategories.Written;
        ulong keepWritten = p.Keeps(catsWritten) ? ulong.MaxValue : 0, keepClean = p.Keeps(catsClean) ? ulong.MaxValue >> (64 - n) : 0;
        bool protect = p.WriteProtect && keepWritten != 0;
        bool storeCategories = !p.SkipCategories;
        bool idleWordsDone = !(storeCategories && keepClean != 0); // an all-protected word needs nothing but its kept bits
        VecU reportWritten = Vec.Create((ulong)(catsWritten & p.Return)), reportClean = Vec.Create((ulong)(catsClean & p.Return));
        long found = 0; // in a register: a ref's add would chain every word through memory
        while (i <= count - 64)
        {
            ulong* at = entries + i;
            if (idleWordsDone)
            {
                VecU miss = zero;
                for (int v = 0; v < 64; v += 4 * n)
                {
                    miss |= ((Vec.Load(at + v) & idleKey) ^ idle) | ((Vec.Load(at + v + n) & idleKey) ^ idle)
                        | ((Vec.Load(at + v + 2 * n) & idleKey) ^ idle) | ((Vec.Load(at + v + 3 * n) & idleKey) ^ idle);
                }
                if (miss == zero)
                {
                    kept[i >> 6] |= keepClean != 0 ? ulong.MaxValue : 0;
                    found += keepClean != 0 ? 64 : 0;
                    i += 64;
                    continue;
                }
            }
            ulong keptWord = 0, flushWord = 0;
            int v0 = 0;
            for (; v0 < 64; v0 += n)
            {
                VecU old = Vec.Load(at + v0);
                if (((old & presentSpecial) ^ present) != zero)
                    break;
                VecU w = Vec.Equals(old & uffdWp, zero);
                ulong wBits = Vec.ExtractMostSignificantBits(w);
                if (storeCategories)
                    KernelBits.StoreLowWords(Vec.ConditionalSelect(w, reportWritten, reportClean), categories + i + v0);
                if (protect)
                {
                    // pte_mkuffd_wp on the written lanes; only RW and D, where set, owe a flush.
                    // Stored unconditionally: which vectors hold a written page is as random as the pages.
                    Vec.Store(Vec.ConditionalSelect(w, MkUffdWp(old, uffdWp, writable, dirty), old), at + v0);
                    ulong flushLanes = wBits & Vec.ExtractMostSignificantBits(~Vec.Equals(old & writableOrDirty, zero));
                    flushWord |= flushLanes << v0;
                }
                keptWord |= ((wBits & keepWritten) | (~wBits & keepClean)) << v0;
            }
            kept[i >> 6] |= keptWord;
            flush[i >> 6] |= flushWord;
            found += BitOperations.PopCount(keptWord);
            i += v0;
            if (v0 < 64)
                break;
        }
        foundTotal += found;
        return i;
    }

    /// <summary>
    /// Every entry kind in lanes, from <paramref name="i"/> to the end of the run or until a
    /// uniform vector became the memo; returns where it stopped.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int General<TMode>(ulong* entries, int i, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush,
        ref ScanMemo memo, ref long foundTotal)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        long found = 0; // in a register: a ref's add would chain every vector through memory
        bool writeProtect = p.WriteProtect;
        VecU zero = VecU.Zero, ones = VecU.AllBitsSet;
        VecU emptyWritten = p.EmptyIsWritten ? ones : zero;
        VecU softDirtyTracked = p.TrackSoftDirty ? ones : zero;
        VecU vmaCategories = Vec.Create((ulong)p.VmaCategories);
        VecU normalCategories = Vec.Create((ulong)p.NormalPageCategories);
        VecU zeroFrame = Vec.Create(p.ZeroPfn == ScanParams.NoPfn ? ulong.MaxValue : (p.ZeroPfn << 12) & Pte.PfnMask);
        VecU present = Vec.Create(Pte.Present);
        VecU presentOrProtNone = Vec.Create(Pte.Present | Pte.ProtNone);
        VecU notGarbage = Vec.Create(~Pte.KnlErratumMask);
        VecU markerType = Vec.Create((ulong)PteMarker.SwapType);
        VecU uffdWp = Vec.Create(Pte.UffdWp);
        VecU special = Vec.Create(Pte.Special);
        VecU softDirty = Vec.Create(Pte.SoftDirty);
        VecU pfn = Vec.Create(Pte.PfnMask);
        VecU swapUffdWp = Vec.Create(SwapEntry.UffdWp);
        VecU swapSoftDirty = Vec.Create(SwapEntry.SoftDirty);
        // Marker offset bits are stored inverted: uffd-wp (offset bit 0) is entry bit 9 clear, guard (bit 2) bit 11 clear.
        VecU markerUffdBit = Vec.Create(1UL << 9);
        VecU markerGuardBit = Vec.Create(1UL << 11);
        VecU writable = Vec.Create(Pte.Writable);
        VecU dirty = Vec.Create(Pte.Dirty);
        VecU uffdMarker = Vec.Create(PteMarker.UffdWp);
        VecU catPresent = Vec.Create((ulong)PageCategories.Present);
        VecU catWritten = Vec.Create((ulong)PageCategories.Written);
        VecU catSwapped = Vec.Create((ulong)PageCategories.Swapped);
        VecU catSoftDirty = Vec.Create((ulong)PageCategories.SoftDirty);
        VecU catPfnZero = Vec.Create((ulong)PageCategories.PfnZero);
        VecU catGuard = Vec.Create((ulong)PageCategories.Guard);
        VecU inverted = Vec.Create((ulong)p.Inverted), mask = Vec.Create((ulong)p.Mask), anyOf = Vec.Create((ulong)p.AnyOf);
        VecU anyOfNone = p.AnyOf == PageCategories.None ? ones : zero;
        VecU returned = Vec.Create((ulong)p.Return);
        VecU flushOnChange = Vec.Create((Pte.PfnMask & ~Pte.PatLarge) | FlushRules.FlushOnChange | FlushRules.UnknownBits);
        VecU flushOnClear = Vec.Create(FlushRules.FlushOnClear);
        // A vector of present (P=1), non-special entries (a populated table) has one of two
        // categories, written or not (soft-dirty aside), so the filter is decided once per call.
        bool populated = !p.TrackSoftDirty;
        bool storeCategories = !p.SkipCategories;
        var catsClean = p.VmaCategories | PageCategories.Present | p.NormalPageCategories;
        var catsWritten = catsClean | PageCategories.Written;
        bool keepWritten = p.Keeps(catsWritten), keepClean = p.Keeps(catsClean);
        bool protectWritten = writeProtect && keepWritten;
        VecU reportWritten = Vec.Create((ulong)(catsWritten & p.Return)), reportClean = Vec.Create((ulong)(catsClean & p.Return));
        VecU presentSpecial = Vec.Create(Pte.Present | Pte.Special);
        VecU writableOrDirty = Vec.Create(Pte.Writable | Pte.Dirty);
        VecU memoKey = Vec.Create(ScanMemo.Key);
        ulong lanes = ulong.MaxValue >> (64 - n);
        int streak = 0;
        ulong streakValue = 0;

        int done = 0;
        VecU active = ones;
        // The fast path's kept and flush bits gather in registers per 64-entry word (a
        // read-modify-write of the same word every vector would chain them through memory).
        int word = i >> 6;
        ulong keptWord = 0, flushWord = 0;
        while (true)
        {
            if (i > count - n)
            {
                if (i == count)
                    break;
                // Overlap the last full vector; lanes below `done` were already processed.
                done = i - (count - n);
                i = count - n;
                active = Vec.GreaterThanOrEqual(VecU.Indices, Vec.Create((ulong)done));
            }
            if ((i >> 6) != word)
            {
                kept[word] |= keptWord;
                flush[word] |= flushWord;
                word = i >> 6;
                keptWord = flushWord = 0;
            }
            ulong* at = entries + i;
            VecU old = Vec.Load(at);
            if (populated && done == 0 && Vec.EqualsAll(old & presentSpecial, present))
            {
                VecU w = Vec.Equals(old & uffdWp, zero);
                ulong wBits = Vec.ExtractMostSignificantBits(w);
                if (storeCategories)
                    KernelBits.StoreLowWords(Vec.ConditionalSelect(w, reportWritten, reportClean), categories + i);
                ulong keptLanes = (keepWritten ? wBits : 0) | (keepClean ? ~wBits & lanes : 0);
                // Unconditional when protecting: whether a vector holds a written page is as random as the pages.
                if (protectWritten)
                {
                    // pte_mkuffd_wp on the written lanes; only RW and D, where set, owe a flush.
                    VecU v = Vec.ConditionalSelect(w, MkUffdWp(old, uffdWp, writable, dirty), old);
                    ulong flushLanes = wBits & Vec.ExtractMostSignificantBits(~Vec.Equals(old & writableOrDirty, zero));
                    if (!TMode.Shared)
                        Vec.Store(v, at);
                    else
                        found += CommitShared<TMode>(at, old, v, ref keptLanes, ref flushLanes, p, categories, kept, i, flush);
                    flushWord |= flushLanes << (i & 63); // i is a multiple of the width here: one word
                }
                found += BitOperations.PopCount(keptLanes);
                keptWord |= keptLanes << (i & 63);
                if (!TMode.Shared)
                {
                    // Four uniform vectors in a row hand over to the memo loop (not one: a table
                    // with a few written pages would go back and forth). Counted without a
                    // branch: whether a vector is uniform is as random as its written pages.
                    ulong e0 = old.ToScalar() & ScanMemo.Key;
                    int uniform = Vec.ExtractMostSignificantBits(Vec.Equals(old & memoKey, Vec.Create(e0))) == lanes ? 1 : 0;
                    int again = e0 == streakValue ? 1 : 0;
                    streak = (streak & -(uniform & again)) + uniform;
                    streakValue = e0;
                    if (streak >= 4)
                    {
                        if (!memo.Valid || memo.Value != e0)
                            memo = ScanMemo.For(old.ToScalar(), p);
                        kept[word] |= keptWord;
                        flush[word] |= flushWord;
                        foundTotal += found;
                        return i + n;
                    }
                }
                i += n;
                continue;
            }
            streak = 0;
            VecU isPresent = ~Vec.Equals(old & presentOrProtNone, zero);
            VecU isNone = Vec.Equals(old & notGarbage, zero);
            VecU swapFormat = ~(isPresent | isNone);
            VecU isMarker = swapFormat & Vec.Equals(Vec.ShiftRightLogical(old, SwapEntry.TypeShift), markerType);
            // pte_swp_uffd_wp_any: bit 2 on any swap-format entry, or a uffd-wp marker.
            VecU swapWp = ~Vec.Equals(old & swapUffdWp, zero) | (isMarker & Vec.Equals(old & markerUffdBit, zero));
            VecU written = (isPresent & Vec.Equals(old & uffdWp, zero))
                | Vec.AndNot(swapFormat, swapWp)
                | (isNone & emptyWritten);
            VecU isSpecial = ~Vec.Equals(old & special, zero);
            // pte_pfn undoes the L1TF inversion of a PROT_NONE entry (present to Linux, P=0).
            VecU frame = (old ^ (Vec.Equals(old & present, zero) & pfn)) & pfn;
            VecU soft = softDirtyTracked & ((isPresent & ~Vec.Equals(old & softDirty, zero))
                | (swapFormat & ~Vec.Equals(old & swapSoftDirty, zero)));
            VecU cats = vmaCategories | (isPresent & catPresent) | (written & catWritten) | (swapFormat & catSwapped)
                | (soft & catSoftDirty)
                | (Vec.AndNot(isPresent, isSpecial) & normalCategories)
                | (isPresent & isSpecial & Vec.Equals(frame, zeroFrame) & catPfnZero)
                | (isMarker & Vec.Equals(old & markerGuardBit, zero) & catGuard);
            VecU c = cats ^ inverted;
            VecU keep = Vec.Equals(c & mask, mask) & (anyOfNone | ~Vec.Equals(c & anyOf, zero));
            if (storeCategories)
            {
                if (done == 0)
                {
                    KernelBits.StoreLowWords(cats & returned, categories + i);
                }
                else
                {
                    VecU r = cats & returned;
                    for (int lane = done; lane < n; lane++)
                        categories[i + lane] = (ushort)r[lane];
                }
            }
            keep &= active;
            ulong keptBits = Vec.ExtractMostSignificantBits(keep);
            if (writeProtect && keptBits != 0)
            {
                VecU target = keep & written;
                if (target != zero)
                {
                    // pte_mkuffd_wp: bit 10, RW cleared, D moved to saved-dirty; markers into none; bit 2 on swap.
                    VecU v = Vec.ConditionalSelect(isPresent, MkUffdWp(old, uffdWp, writable, dirty), Vec.ConditionalSelect(isNone, uffdMarker, old | swapUffdWp));
                    v = Vec.ConditionalSelect(target, v, old);
                    VecU diff = old ^ v;
                    VecU needs = ~Vec.Equals((diff & flushOnChange) | (diff & old & flushOnClear), zero)
                        & ~Vec.Equals(old & present, zero);
                    ulong flushBits = Vec.ExtractMostSignificantBits(needs);
                    if (!TMode.Shared)
                        Vec.Store(v, at);
                    else
                        found += CommitShared<TMode>(at, old, v, ref keptBits, ref flushBits, p, categories, kept, i, flush);
                    KernelBits.Or(flush, i, flushBits);
                }
            }
            found += BitOperations.PopCount(keptBits);
            KernelBits.Or(kept, i, keptBits);
            if (!TMode.Shared && done == 0)
            {
                // A uniform vector of a populated table: memoise it for the vectors that follow.
                ulong e0 = old.ToScalar();
                if ((e0 & (Pte.Present | Pte.Special)) == Pte.Present
                    && Vec.EqualsAll(old & memoKey, Vec.Create(e0 & ScanMemo.Key)))
                {
                    if (!memo.Valid || memo.Value != (e0 & ScanMemo.Key))
                        memo = ScanMemo.For(e0, p);
                    kept[word] |= keptWord;
                    flush[word] |= flushWord;
                    foundTotal += found;
                    return i + n;
                }
            }
            i += n;
        }
        kept[word] |= keptWord;
        flush[word] |= flushWord;
        foundTotal += found;
        return i;
    }

    /// <summary>
    /// The fast loop: whole vectors from <paramref name="i"/> (a multiple of the width) while
    /// every lane matches the memo; returns where it stopped.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int MemoRun(ulong* entries, int i, int last, ushort* categories, Span<ulong> kept, Span<ulong> flush,
        in ScanMemo memo, ref long found)
    {
        int n = VecU.Count;
        VecU key = Vec.Create(ScanMemo.Key), value = Vec.Create(memo.Value);
        int start = i;
        if (memo.Protects)
        {
            VecU clear = Vec.Create(memo.Clear), set = Vec.Create(memo.Set);
            for (; i <= last - 3 * n; i += 4 * n)
            {
                VecU a = Vec.Load(entries + i), b = Vec.Load(entries + i + n);
                VecU c = Vec.Load(entries + i + 2 * n), d = Vec.Load(entries + i + 3 * n);
                VecU miss = ((a ^ value) & key) | ((b ^ value) & key) | ((c ^ value) & key) | ((d ^ value) & key);
                if (miss != VecU.Zero)
                    break;
                Vec.Store(Vec.AndNot(a, clear) | set, entries + i);
                Vec.Store(Vec.AndNot(b, clear) | set, entries + i + n);
                Vec.Store(Vec.AndNot(c, clear) | set, entries + i + 2 * n);
                Vec.Store(Vec.AndNot(d, clear) | set, entries + i + 3 * n);
            }
            for (; i <= last; i += n)
            {
                VecU a = Vec.Load(entries + i);
                if (!Vec.EqualsAll(a & key, value))
                    break;
                Vec.Store(Vec.AndNot(a, clear) | set, entries + i);
            }
        }
        else
        {
            for (; i <= last - 3 * n; i += 4 * n)
            {
                VecU miss = ((Vec.Load(entries + i) ^ value) & key) | ((Vec.Load(entries + i + n) ^ value) & key)
                    | ((Vec.Load(entries + i + 2 * n) ^ value) & key) | ((Vec.Load(entries + i + 3 * n) ^ value) & key);
                if (miss != VecU.Zero)
                    break;
            }
            for (; i <= last; i += n)
            {
                if (!Vec.EqualsAll(Vec.Load(entries + i) & key, value))
                    break;
            }
        }
        if (memo.Kept && i > start)
        {
            // Categories are only read for kept entries: an idle rescan writes none.
            if (memo.StoresCategories)
                new Span<ushort>(categories + start, i - start).Fill(memo.Reported);
            found += i - start;
            KernelBits.SetRange(kept, start, i);
            if (memo.Flushes)
                KernelBits.SetRange(flush, start, i);
        }
        return i;
    }

    /// <summary>
    /// Shared tables: compare-exchange each changed lane against the value read; a lane that
    /// lost (a walker set A/D since the load) is redone from what is there now and leaves the
    /// vector's bit masks. Returns the redone lanes' kept count.
    /// </summary>
    private static long CommitShared<TMode>(ulong* at, VecU old, VecU v, ref ulong keptBits, ref ulong flushBits,
        in ScanParams p, ushort* categories, Span<ulong> kept, int i, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long found = 0;
        ulong changedBits = Vec.ExtractMostSignificantBits(~Vec.Equals(v, old));
        while (changedBits != 0)
        {
            int lane = BitOperations.TrailingZeroCount(changedBits);
            changedBits &= changedBits - 1;
            ulong seen = old[lane];
            ulong now = TMode.CompareExchange(at + lane, v[lane], seen);
            if (now == seen)
                continue;
            ulong bit = 1UL << lane;
            keptBits &= ~bit;
            flushBits &= ~bit;
            found += ScanScalar.One<TMode>(at + lane, now, p, categories + i + lane, kept, i + lane, flush);
        }
        return found;
    }

    /// <summary>pte_mkuffd_wp on every lane: the uffd-wp bit set, RW cleared, D moved to saved-dirty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static VecU MkUffdWp(VecU old, VecU uffdWp, VecU writable, VecU dirty)
    {
        VecU m = Vec.AndNot(old | uffdWp, writable);
        return Vec.AndNot(m, dirty) | Vec.ShiftLeft(m & dirty, 52);
    }
}
