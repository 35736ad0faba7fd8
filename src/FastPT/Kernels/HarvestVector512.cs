using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Entries;
using Narrower = FastPT.Kernels.HarvestVector256;
using Vec = System.Runtime.Intrinsics.Vector512;
using VecU = System.Runtime.Intrinsics.Vector512<ulong>;

namespace FastPT.Kernels;

/// <summary>
/// A/D harvest over a run of PTEs, one vector per step. Clearing a bit is idempotent, but the
/// harvested count is not, so the overlapping last vector masks off the lanes already done.
/// </summary>
[SkipLocalsInit]
internal static unsafe class HarvestVector512
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Apply<TMode>(ulong* entries, int count, ulong bit, Span<ulong> harvested, Span<ulong> flush)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        if (count < n)
            return Narrower.Apply<TMode>(entries, count, bit, harvested, flush);

        bool flushes = FlushRules.NeedsFlush(Pte.Present | bit, Pte.Present); // D: yes; A: no
        VecU want = Vec.Create(Pte.Present | bit);
        VecU clear = Vec.Create(bit);
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
            if (!TMode.Shared)
            {
                // Lanes done before the overlap have the bit clear already, so clearing all hits is safe.
                Vec.Store(Vec.AndNot(old, hit & clear), at);
            }
            else
            {
                ulong todo = bits;
                while (todo != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(todo);
                    todo &= todo - 1;
                    // Atomic AND: a bit set by a walker after our load survives for the next harvest.
                    ulong was = TMode.And(at + lane, ~bit);
                    if ((was & (Pte.Present | bit)) != (Pte.Present | bit))
                        bits &= ~(1UL << lane);
                }
            }
            total += BitOperations.PopCount(bits);
            KernelBits.Or(harvested, i, bits);
            if (flushes)
                KernelBits.Or(flush, i, bits);
            i += n;
        }
        return total;
    }
}
