using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Entries;
using Narrower = FastPT.Kernels.ZapVector256;
using Vec = System.Runtime.Intrinsics.Vector512;
using VecU = System.Runtime.Intrinsics.Vector512<ulong>;

namespace FastPT.Kernels;

/// <summary>
/// Zap over a run of PTEs, one vector per step: every entry kind is a lane select, so no
/// scalar fallback. Short runs go narrower; the last partial vector overlaps its predecessor
/// with the done lanes masked off (the count is not idempotent).
/// </summary>
[SkipLocalsInit]
internal static unsafe class ZapVector512
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, in ZapParams p, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        if (count < n)
            return Narrower.Apply<TMode>(entries, count, p, flush);

        VecU zero = VecU.Zero, ones = VecU.AllBitsSet;
        VecU keep = p.KeepUffdWpAsMarker ? ones : zero;
        VecU drop = p.DropMarkers ? ones : zero;
        VecU presentOrProtNone = Vec.Create(Pte.Present | Pte.ProtNone);
        VecU notGarbage = Vec.Create(~Pte.KnlErratumMask);
        VecU markerType = Vec.Create((ulong)PteMarker.SwapType);
        VecU uffdWp = Vec.Create(Pte.UffdWp);
        VecU swapUffdWp = Vec.Create(SwapEntry.UffdWp);
        // Marker offset bits are stored inverted: uffd-wp (offset bit 0) is entry bit 9 clear, guard (bit 2) is bit 11 clear.
        VecU markerUffdBit = Vec.Create(1UL << 9);
        VecU markerGuardBit = Vec.Create(1UL << 11);
        VecU uffdMarker = Vec.Create(PteMarker.UffdWp);

        long unmapped = 0;
        VecU active = ones;
        int i = 0;
        while (true)
        {
            if (i > count - n)
            {
                if (i == count)
                    break;
                int done = i - (count - n);
                i = count - n;
                active = Vec.GreaterThanOrEqual(VecU.Indices, Vec.Create((ulong)done));
            }
            ulong* at = entries + i;
            VecU old = Vec.Load(at);
            VecU isPresent = ~Vec.Equals(old & presentOrProtNone, zero);
            VecU isNone = Vec.Equals(old & notGarbage, zero);
            VecU swapFormat = ~(isPresent | isNone);
            VecU isMarker = swapFormat & Vec.Equals(Vec.ShiftRightLogical(old, SwapEntry.TypeShift), markerType);
            VecU isSwap = Vec.AndNot(swapFormat, isMarker);
            // Present: bit 10 becomes a marker when kept; swap: bit 2 likewise; everything else clears.
            VecU v = keep & ~Vec.Equals(old & uffdWp, zero) & isPresent & uffdMarker;
            v |= keep & ~Vec.Equals(old & swapUffdWp, zero) & isSwap & uffdMarker;
            VecU markerUffd = Vec.Equals(old & markerUffdBit, zero);
            VecU markerGuard = Vec.Equals(old & markerGuardBit, zero);
            VecU markerValue = Vec.ConditionalSelect(markerGuard & ~drop, old,
                Vec.ConditionalSelect(keep & markerUffd, uffdMarker, Vec.AndNot(old, drop)));
            v = Vec.ConditionalSelect(isMarker, markerValue, v);
            v = Vec.ConditionalSelect(isNone | ~active, old, v);
            ulong presentBits = Vec.ExtractMostSignificantBits(isPresent & active);
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
                        presentBits &= ~(1UL << lane);
                        unmapped += ZapScalar.One<TMode>(at + lane, now, p, i + lane, flush);
                    }
                }
            }
            unmapped += BitOperations.PopCount(presentBits);
            KernelBits.Or(flush, i, presentBits);
            i += n;
        }
        return unmapped;
    }
}
