using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Entries;
using Narrower = FastPT.Kernels.HarvestVector256;
using Vec = System.Runtime.Intrinsics.Vector512;
using VecU = System.Runtime.Intrinsics.Vector512<ulong>;

namespace FastPT.Kernels;

/// <summary>
/// The bit move (A/D harvest, write-protect, unprotect) over a run of PTEs, one vector per
/// step. The move is idempotent, but the moved count is not, so the overlapping last vector
/// masks off the lanes already done.
/// </summary>
[SkipLocalsInit]
internal static unsafe class HarvestVector512
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, ulong from, ulong to, Span<ulong> moved, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        if (count < n)
            return Narrower.Apply<TMode>(entries, count, from, to, moved, flush);

        VecU want = Vec.Create(Pte.Present | from);
        VecU clear = Vec.Create(from);
        VecU set = Vec.Create(to);
        VecU zero = VecU.Zero;
        VecU flushOnChange = Vec.Create(FlushRules.FlushOnChange | FlushRules.UnknownBits);
        VecU flushOnClear = Vec.Create(FlushRules.FlushOnClear);
        long total = 0;
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
            VecU hit = Vec.Equals(old & want, want);
            ulong bits = Vec.ExtractMostSignificantBits(hit) >> done << done;
            if (bits == 0)
            {
                i += n;
                continue;
            }
            ulong flushBits;
            if (!TMode.Shared)
            {
                // Lanes done before the overlap no longer match (from is clear), so moving all hits is safe.
                VecU moved1 = Vec.ConditionalSelect(hit, Vec.AndNot(old, clear) | set, old);
                Vec.Store(moved1, at);
                // pte_needs_flush per lane: the PFN never changes, so only the changed flag bits decide.
                VecU diff = old ^ moved1;
                VecU needs = (diff & flushOnChange) | (diff & old & flushOnClear);
                flushBits = ~Vec.ExtractMostSignificantBits(Vec.Equals(needs, zero)) & bits;
            }
            else
            {
                flushBits = 0;
                ulong todo = bits;
                while (todo != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(todo);
                    todo &= todo - 1;
                    // Atomic per entry: a bit set by a walker after our load survives.
                    ulong seen = old[lane];
                    if (!HarvestScalar.One<TMode>(at + lane, ref seen, from, to))
                        bits &= ~(1UL << lane);
                    else if (FlushRules.NeedsFlush(seen, (seen & ~from) | to))
                        flushBits |= 1UL << lane;
                }
            }
            total += BitOperations.PopCount(bits);
            KernelBits.Or(moved, i, bits);
            KernelBits.Or(flush, i, flushBits);
            i += n;
        }
        return total;
    }
}
