using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FastPT.Entries;
using Narrower = FastPT.Kernels.ChangeProtectionVector256;
using Vec = System.Runtime.Intrinsics.Vector512;
using VecU = System.Runtime.Intrinsics.Vector512<ulong>;

namespace FastPT.Kernels;

/// <summary>
/// change_protection over a run of PTEs, one vector of entries per step. Uniform vectors
/// (all lanes matching the op's <see cref="ChangeProtectionMemo"/>) take a compare-and-blend
/// loop; the general path handles every entry kind (present, none, marker, swap incl. the
/// writable migration / device types) as lane selects, without calls, its constants in
/// registers. Runs shorter than a vector go to the next narrower kernel; the last partial
/// vector overlaps its predecessor with the lanes already done masked off (the rule is not
/// idempotent, nor is its count).
/// </summary>
[SkipLocalsInit]
internal static unsafe class ChangeProtectionVector512
{
    public static long Apply<TMode>(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        var memo = default(ChangeProtectionMemo);
        return Apply<TMode>(entries, count, p, flush, ref memo);
    }

    /// <summary>
    /// As above with a memo that outlives the call (the op's): vectors whose lanes all match
    /// it take the fast loop; a uniform vector that does not match becomes the new memo.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, in ChangeProtectionParams p, Span<ulong> flush, ref ChangeProtectionMemo memo)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        if (count < n)
            return Narrower.Apply<TMode>(entries, count, p, flush, ref memo);
        if (flush.Length < (count + 63) >> 6)
            throw new ArgumentException($"flush holds {flush.Length} words but the run has {count} entries; pass (count + 63) / 64 words", nameof(flush));
        long changed = 0;
        int i = 0;
        while (i < count)
        {
            if (!TMode.Shared && memo.Valid)
            {
                i = MemoRun(entries, i, count - n, flush, memo, ref changed);
                if (i == count)
                    break;
            }
            i = General<TMode>(entries, i, count, p, flush, ref memo, ref changed);
        }
        return changed;
    }

    /// <summary>
    /// Every entry kind in lanes, from vector <paramref name="i"/> to the end of the run, or
    /// until a uniform vector became the memo (then the fast loop takes over). Returns where
    /// it stopped. Its own method, so the fast path never pays for its thirty constants.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int General<TMode>(ulong* entries, int i, int count, in ChangeProtectionParams p, Span<ulong> flush,
        ref ChangeProtectionMemo memo, ref long changed)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        bool protect = p.Protect, resolve = p.Resolve, markers = p.Protect && p.UseMarkers;
        bool tryWritable = p.TryWritable && p.VmaWritable, vmaUffdWp = p.VmaUffdWp;
        bool newHasWrite = (p.NewProt & Pte.Writable) != 0, newHasPresent = (p.NewProt & Pte.Present) != 0;
        VecU zero = VecU.Zero, ones = VecU.AllBitsSet;
        VecU changeMask = Vec.Create(PgProt.ChangeMask);
        VecU newLow = Vec.Create(p.NewProt & ~PgProt.ChangeMask);
        VecU present = Vec.Create(Pte.Present);
        VecU presentOrProtNone = Vec.Create(Pte.Present | Pte.ProtNone);
        VecU protNone = Vec.Create(Pte.ProtNone);
        VecU writable = Vec.Create(Pte.Writable);
        VecU dirty = Vec.Create(Pte.Dirty);
        VecU savedDirty = Vec.Create(Pte.SavedDirty);
        VecU uffdWp = Vec.Create(Pte.UffdWp);
        VecU pfn = Vec.Create(Pte.PfnMask);
        VecU notGarbage = Vec.Create(~Pte.KnlErratumMask);
        // can_change_pte_writable's last test: shared mappings need dirty, private ones not the zero page.
        VecU writeTest = Vec.Create(p.VmaShared ? Pte.Dirty | Pte.SavedDirty : Pte.Special);
        VecU writeTestWant = p.VmaShared ? ones : zero; // shared: pass when the test bits are set; private: when clear
        VecU markerType = Vec.Create((ulong)PteMarker.SwapType);
        VecU migrationWrite = Vec.Create((ulong)ChangeProtectionRule.MigrationWrite);
        VecU deviceWrite = Vec.Create((ulong)ChangeProtectionRule.DevicePrivateWrite);
        VecU migrationReadType = Vec.Create((ulong)(p.VmaShared ? ChangeProtectionRule.MigrationRead : ChangeProtectionRule.MigrationReadExclusive) << SwapEntry.TypeShift);
        VecU deviceReadType = Vec.Create((ulong)ChangeProtectionRule.DevicePrivateRead << SwapEntry.TypeShift);
        VecU swapOffsetBits = Vec.Create(0x07FF_FFFF_FFFF_FE00UL); // bits 9..58
        VecU swapSoftDirty = Vec.Create(SwapEntry.SoftDirty);
        // A marker is resolved unless poisoned or guard: entry bits 10 and 11 hold those offset bits inverted.
        VecU markerNotPoisonOrGuard = Vec.Create(0xC00UL);
        VecU uffdMarker = Vec.Create(PteMarker.UffdWp);
        VecU swapUffdWp = Vec.Create(SwapEntry.UffdWp);
        VecU flushOnChange = Vec.Create((Pte.PfnMask & ~Pte.PatLarge) | FlushRules.FlushOnChange | FlushRules.UnknownBits);
        VecU flushOnClear = Vec.Create(FlushRules.FlushOnClear);

        VecU active = ones;
        while (true)
        {
            if (i > count - n)
            {
                if (i == count)
                    break;
                // Overlap the last full vector; lanes below `done` were already processed.
                int done = i - (count - n);
                i = count - n;
                active = Vec.GreaterThanOrEqual(VecU.Indices, Vec.Create((ulong)done));
            }
            ulong* at = entries + i;
            // Shared tables: each aligned 8-byte lane is read whole; a stale lane only fails its exchange.
            VecU old = Vec.Load(at);
            VecU isPresent = ~Vec.Equals(old & presentOrProtNone, zero);
            VecU v = old;
            VecU counted = zero;
            if (isPresent != zero)
            {
                // pte_modify: keep _PAGE_CHG_MASK bits, take the rest from newprot.
                VecU m = (old & changeMask) | newLow;
                // L1TF: re-invert the PFN when old and new disagree about being inverted. A
                // present old entry is inverted iff P=0; the new one iff non-zero with P=0.
                VecU oldInverted = Vec.Equals(old & present, zero);
                VecU newInverted = newHasPresent ? zero : ~Vec.Equals(m, zero);
                m ^= (oldInverted ^ newInverted) & pfn;
                // Saved-dirty: the new RW is newprot's, so only the old RW picks the direction.
                VecU oldWritable = ~Vec.Equals(old & writable, zero);
                m = newHasWrite
                    ? Vec.ConditionalSelect(oldWritable, m, SavedToDirty(m, savedDirty))
                    : Vec.ConditionalSelect(oldWritable, DirtyToSaved(m, dirty), m);
                if (protect)
                    m = DirtyToSaved(Vec.AndNot(m | uffdWp, writable), dirty);
                else if (resolve)
                    m = Vec.AndNot(m, uffdWp);
                if (tryWritable)
                {
                    VecU can = Vec.Equals(m & writable, zero)
                        & ~Vec.Equals(m & presentOrProtNone, protNone)
                        & (Vec.Equals(m & writeTest, zero) ^ writeTestWant);
                    if (vmaUffdWp)
                        can &= Vec.Equals(m & uffdWp, zero);
                    m = Vec.ConditionalSelect(can, SavedToDirty(m | writable, savedDirty), m);
                }
                v = Vec.ConditionalSelect(isPresent, m, old);
                counted = isPresent;
            }
            if (isPresent != ones)
            {
                VecU isNone = Vec.Equals(old & notGarbage, zero);
                VecU type = Vec.ShiftRightLogical(old, SwapEntry.TypeShift);
                VecU swapFormat = ~(isPresent | isNone);
                VecU isMarker = swapFormat & Vec.Equals(type, markerType);
                VecU isSwap = Vec.AndNot(swapFormat, isMarker);
                if (markers)
                {
                    v = Vec.ConditionalSelect(isNone, uffdMarker, v);
                    counted |= isNone;
                }
                if (resolve)
                {
                    VecU gone = isMarker & Vec.Equals(old & markerNotPoisonOrGuard, markerNotPoisonOrGuard);
                    v = Vec.AndNot(v, gone);
                    counted |= gone;
                }
                if (isSwap != zero)
                {
                    // Writable migration (26) / device-private (27) entries become readable: same
                    // offset bits, new type, and only soft-dirty (migration) or bit 2 (device) kept.
                    VecU offset = old & swapOffsetBits;
                    VecU s = Vec.ConditionalSelect(Vec.Equals(type, migrationWrite), offset | migrationReadType | (old & swapSoftDirty),
                        Vec.ConditionalSelect(Vec.Equals(type, deviceWrite), offset | deviceReadType | (old & swapUffdWp), old));
                    if (protect)
                        s |= swapUffdWp;
                    else if (resolve)
                        s = Vec.AndNot(s, swapUffdWp);
                    v = Vec.ConditionalSelect(isSwap, s, v);
                    counted |= isSwap & ~Vec.Equals(s, old);
                }
            }
            v = Vec.ConditionalSelect(active, v, old);
            ulong countedBits = Vec.ExtractMostSignificantBits(counted & active);
            // pte_needs_flush, for lanes whose old entry has P=1.
            VecU diff = old ^ v;
            VecU needs = ~Vec.Equals((diff & flushOnChange) | (diff & old & flushOnClear), zero)
                & ~Vec.Equals(old & present, zero);
            ulong flushBits = Vec.ExtractMostSignificantBits(needs);
            if (v != old)
            {
                if (!TMode.Shared)
                {
                    Vec.Store(v, at);
                }
                else
                {
                    ulong changedBits = Vec.ExtractMostSignificantBits(~Vec.Equals(v, old));
                    while (changedBits != 0)
                    {
                        int lane = BitOperations.TrailingZeroCount(changedBits);
                        changedBits &= changedBits - 1;
                        ulong seen = old[lane];
                        ulong now = TMode.CompareExchange(at + lane, v[lane], seen);
                        if (now == seen)
                            continue;
                        // A walker set A/D since the load: redo this entry from what is there now.
                        ulong bit = 1UL << lane;
                        countedBits &= ~bit;
                        flushBits &= ~bit;
                        changed += ChangeProtectionScalar.ApplyShared<TMode>(at + lane, now, p, i + lane, flush);
                    }
                }
            }
            changed += BitOperations.PopCount(countedBits);
            KernelBits.Or(flush, i, flushBits);
            if (!TMode.Shared && active == ones)
            {
                // A uniform vector with a new pattern: memoise it for the vectors that follow.
                ulong e0 = old.ToScalar();
                ulong like = (e0 & Pte.Present) != 0 && newHasPresent ? ~ChangeProtectionMemo.PresentPassBits : ~0UL;
                if (Vec.EqualsAll(old & Vec.Create(like), Vec.Create(e0 & like)))
                {
                    var candidate = ChangeProtectionMemo.For(e0, p);
                    if (Vec.EqualsAll(old & Vec.Create(candidate.Mask), Vec.Create(candidate.Value)))
                    {
                        memo = candidate;
                        return i + n;
                    }
                }
            }
            i += n;
        }
        return i;
    }

    /// <summary>
    /// The fast loop: whole vectors from <paramref name="i"/> (a multiple of the width) while
    /// every lane matches the memo; returns where it stopped. Its own method, so its few
    /// vectors stay in registers instead of competing with the general path's thirty.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int MemoRun(ulong* entries, int i, int last, Span<ulong> flush, in ChangeProtectionMemo memo, ref long changed)
    {
        int n = VecU.Count;
        VecU mask = Vec.Create(memo.Mask), value = Vec.Create(memo.Value);
        int start = i;
        if (memo.Writes)
        {
            VecU pass = Vec.Create(memo.Pass), outBits = Vec.Create(memo.Out);
            // Four vectors per test: a lane matches iff (e ^ Value) & Mask == 0 (Value lies
            // inside Mask), so one OR of four such terms and one branch cover 4n entries.
            for (; i <= last - 3 * n; i += 4 * n)
            {
                VecU a = Vec.Load(entries + i), b = Vec.Load(entries + i + n);
                VecU c = Vec.Load(entries + i + 2 * n), d = Vec.Load(entries + i + 3 * n);
                VecU miss = ((a ^ value) & mask) | ((b ^ value) & mask) | ((c ^ value) & mask) | ((d ^ value) & mask);
                if (miss != VecU.Zero)
                    break;
                Vec.Store((a & pass) | outBits, entries + i);
                Vec.Store((b & pass) | outBits, entries + i + n);
                Vec.Store((c & pass) | outBits, entries + i + 2 * n);
                Vec.Store((d & pass) | outBits, entries + i + 3 * n);
            }
            for (; i <= last; i += n)
            {
                VecU a = Vec.Load(entries + i);
                if (!Vec.EqualsAll(a & mask, value))
                    break;
                Vec.Store((a & pass) | outBits, entries + i);
            }
        }
        else
        {
            for (; i <= last; i += n)
            {
                if (!Vec.EqualsAll(Vec.Load(entries + i) & mask, value))
                    break;
            }
        }
        if (memo.Counted)
            changed += i - start;
        if (memo.Flush && i > start)
            KernelBits.SetRange(flush, start, i);
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VecU DirtyToSaved(VecU v, VecU dirty) =>
        Vec.AndNot(v, dirty) | Vec.ShiftLeft(v & dirty, 52);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VecU SavedToDirty(VecU v, VecU savedDirty) =>
        Vec.AndNot(v, savedDirty) | Vec.ShiftRightLogical(v & savedDirty, 52);
}
