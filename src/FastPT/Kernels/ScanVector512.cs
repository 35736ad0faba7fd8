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
/// Written-page scan over a run of PTEs, one vector per step: categories are computed in
/// lanes and narrowed to one byte per entry; WP_MATCHING rewrites the written lanes. The last
/// partial vector overlaps its predecessor with the done lanes masked off (write-protecting
/// changes categories, so a lane must not be seen twice).
/// </summary>
[SkipLocalsInit]
internal static unsafe class ScanVector512
{
    public static long Apply<TMode>(ulong* entries, int count, in ScanParams p, byte* categories, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        if (count < n)
            return Narrower.Apply<TMode>(entries, count, p, categories, flush);

        bool writeProtect = p.WriteProtect;
        VecU zero = VecU.Zero, ones = VecU.AllBitsSet;
        VecU emptyWritten = p.EmptyIsWritten ? ones : zero;
        VecU vmaCategories = Vec.Create((ulong)p.VmaCategories);
        VecU present = Vec.Create(Pte.Present);
        VecU presentOrProtNone = Vec.Create(Pte.Present | Pte.ProtNone);
        VecU notGarbage = Vec.Create(~Pte.KnlErratumMask);
        VecU markerType = Vec.Create((ulong)PteMarker.SwapType);
        VecU uffdWp = Vec.Create(Pte.UffdWp);
        VecU softDirty = Vec.Create(Pte.SoftDirty);
        VecU swapUffdWp = Vec.Create(SwapEntry.UffdWp);
        VecU swapSoftDirty = Vec.Create(SwapEntry.SoftDirty);
        VecU markerUffdBit = Vec.Create(1UL << 9); // marker offset bit 0 (uffd-wp), stored inverted
        VecU writable = Vec.Create(Pte.Writable);
        VecU dirty = Vec.Create(Pte.Dirty);
        VecU uffdMarker = Vec.Create(PteMarker.UffdWp);
        VecU catPresent = Vec.Create((ulong)PageCategories.Present);
        VecU writableOrDirty = Vec.Create(Pte.Writable | Pte.Dirty);
        ulong laneBytes = 0x0101010101010101UL >> (64 - 8 * n); // one 1 per lane's byte
        ulong presentBytes = laneBytes * (ulong)(p.VmaCategories | PageCategories.Present);
        ulong writtenBytes = laneBytes * (ulong)PageCategories.Written, softDirtyBytes = laneBytes * (ulong)PageCategories.SoftDirty;
        VecU presentCategories = Vec.Create((ulong)(p.VmaCategories | PageCategories.Present));
        VecU catWritten = Vec.Create((ulong)PageCategories.Written);
        VecU catSwapped = Vec.Create((ulong)PageCategories.Swapped);
        VecU catSoftDirty = Vec.Create((ulong)PageCategories.SoftDirty);
        VecU flushOnChange = Vec.Create((Pte.PfnMask & ~Pte.PatLarge) | FlushRules.FlushOnChange | FlushRules.UnknownBits);
        VecU flushOnClear = Vec.Create(FlushRules.FlushOnClear);

        long written = 0;
        int done = 0;
        int i = 0;
        while (true)
        {
            if (i > count - n)
            {
                if (i == count)
                    break;
                done = i - (count - n);
                i = count - n;
            }
            ulong* at = entries + i;
            VecU old = Vec.Load(at);
            if (done == 0 && Vec.EqualsAll(old & present, present))
            {
                // Every lane present with P=1 (the usual table): two bit tests decide the
                // categories; no swap, marker or none logic.
                VecU w = Vec.Equals(old & uffdWp, zero);
                VecU sd = ~Vec.Equals(old & softDirty, zero);
                ulong wBits = Vec.ExtractMostSignificantBits(w);
                if (Bmi2.X64.IsSupported)
                {
                    // Category bytes straight from the lane masks: pdep spreads bit k to byte k.
                    StorePacked(presentBytes | Bmi2.X64.ParallelBitDeposit(wBits, writtenBytes)
                        | Bmi2.X64.ParallelBitDeposit(Vec.ExtractMostSignificantBits(sd), softDirtyBytes), categories + i);
                }
                else
                {
                    StoreBytes(presentCategories | (w & catWritten) | (sd & catSoftDirty), categories + i);
                }
                if (writeProtect && wBits != 0)
                {
                    VecU m = Vec.AndNot(old | uffdWp, writable);
                    m = Vec.AndNot(m, dirty) | Vec.ShiftLeft(m & dirty, 52);
                    VecU v = Vec.ConditionalSelect(w, m, old);
                    // pte_needs_flush for a P=1 entry that pte_mkuffd_wp changed: only RW (cleared)
                    // and D (moved to saved-dirty) are hardware bits that change.
                    ulong fBits = Vec.ExtractMostSignificantBits(w & ~Vec.Equals(old & writableOrDirty, zero));
                    if (!TMode.Shared)
                    {
                        Vec.Store(v, at);
                        flush[i >> 6] |= fBits << (i & 63); // i is a multiple of n here: one word
                    }
                    else
                    {
                        written += CommitShared<TMode>(at, old, v, ref wBits, ref fBits, p, categories, i, flush);
                        KernelBits.Or(flush, i, fBits);
                    }
                }
                written += BitOperations.PopCount(wBits);
                i += n;
                continue;
            }
            VecU isPresent = ~Vec.Equals(old & presentOrProtNone, zero);
            VecU isNone = Vec.Equals(old & notGarbage, zero);
            VecU swapFormat = ~(isPresent | isNone);
            VecU isMarker = swapFormat & Vec.Equals(Vec.ShiftRightLogical(old, SwapEntry.TypeShift), markerType);
            // pte_swp_uffd_wp_any: bit 2 on any swap-format entry, or a uffd-wp marker
            // (whose inverted offset has bit 9 clear).
            VecU swapWp = ~Vec.Equals(old & swapUffdWp, zero) | (isMarker & Vec.Equals(old & markerUffdBit, zero));
            VecU writtenLanes = (isPresent & Vec.Equals(old & uffdWp, zero))
                | Vec.AndNot(swapFormat, swapWp)
                | (isNone & emptyWritten);
            VecU soft = (isPresent & ~Vec.Equals(old & softDirty, zero))
                | (swapFormat & ~Vec.Equals(old & swapSoftDirty, zero));
            VecU cats = vmaCategories | (isPresent & catPresent) | (writtenLanes & catWritten)
                | (swapFormat & catSwapped) | (soft & catSoftDirty);
            if (done == 0)
                StoreBytes(cats, categories + i);
            else
                for (int lane = done; lane < n; lane++)
                    categories[i + lane] = (byte)cats[lane];
            ulong writtenBits = Vec.ExtractMostSignificantBits(writtenLanes) >> done << done;
            if (writeProtect && writtenBits != 0)
            {
                VecU target = done == 0 ? writtenLanes : writtenLanes & Vec.GreaterThanOrEqual(VecU.Indices, Vec.Create((ulong)done));
                // pte_mkuffd_wp: bit 10, RW cleared, D moved to saved-dirty.
                VecU m = Vec.AndNot(old | uffdWp, writable);
                m = Vec.AndNot(m, dirty) | Vec.ShiftLeft(m & dirty, 52);
                VecU v = Vec.ConditionalSelect(isPresent, m, Vec.ConditionalSelect(isNone, uffdMarker, old | swapUffdWp));
                v = Vec.ConditionalSelect(target, v, old);
                VecU diff = old ^ v;
                VecU needs = ~Vec.Equals((diff & flushOnChange) | (diff & old & flushOnClear), zero)
                    & ~Vec.Equals(old & present, zero);
                ulong flushBits = Vec.ExtractMostSignificantBits(needs);
                if (!TMode.Shared)
                    Vec.Store(v, at);
                else
                    written += CommitShared<TMode>(at, old, v, ref writtenBits, ref flushBits, p, categories, i, flush);
                KernelBits.Or(flush, i, flushBits);
            }
            written += BitOperations.PopCount(writtenBits);
            i += n;
        }
        return written;
    }

    /// <summary>
    /// Shared tables: compare-exchange each changed lane against the value read; a lane that
    /// lost (a walker set A/D since the load) is redone from what is there now, category
    /// included, and leaves the vector's bit masks. Returns the redone lanes' written count.
    /// </summary>
    private static long CommitShared<TMode>(ulong* at, VecU old, VecU v, ref ulong writtenBits, ref ulong flushBits,
        in ScanParams p, byte* categories, int i, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        long written = 0;
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
            writtenBits &= ~bit;
            flushBits &= ~bit;
            written += ScanScalar.One<TMode>(at + lane, now, p, categories + i + lane, i + lane, flush);
        }
        return written;
    }

    /// <summary>Stores the low byte of <paramref name="packed"/> for each lane, lane 0 first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePacked(ulong packed, byte* to)
    {
        if (VecU.Count == 8)
            Unsafe.WriteUnaligned(to, packed);
        else if (VecU.Count == 4)
            Unsafe.WriteUnaligned(to, (uint)packed);
        else
            Unsafe.WriteUnaligned(to, (ushort)packed);
    }

    /// <summary>Narrows lanes (each below 256) to bytes and stores one byte per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreBytes(VecU cats, byte* to)
    {
        ulong packed = KernelBits.LowBytes(cats);
        if (VecU.Count == 8)
            Unsafe.WriteUnaligned(to, packed);
        else if (VecU.Count == 4)
            Unsafe.WriteUnaligned(to, (uint)packed);
        else
            Unsafe.WriteUnaligned(to, (ushort)packed);
    }
}
