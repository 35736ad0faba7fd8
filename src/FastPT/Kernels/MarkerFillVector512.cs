using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Entries;
using Narrower = FastPT.Kernels.MarkerFillVector256;
using Vec = System.Runtime.Intrinsics.Vector512;
using VecU = System.Runtime.Intrinsics.Vector512<ulong>;

namespace FastPT.Kernels;

/// <summary>
/// Marker fill, one vector per step. Filling is idempotent but the count is not, so the
/// overlapping last vector counts only lanes not done; writing their markers again is harmless.
/// </summary>
[SkipLocalsInit]
internal static unsafe class MarkerFillVector512
{
    public static long Apply<TMode>(ulong* entries, int count)
        where TMode : struct, ITableWriteMode
    {
        int n = VecU.Count;
        if (count < n)
            return Narrower.Apply<TMode>(entries, count);
        VecU notGarbage = Vec.Create(~Pte.KnlErratumMask);
        VecU marker = Vec.Create(PteMarker.UffdWp);
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
            VecU none = Vec.Equals(old & notGarbage, VecU.Zero);
            ulong bits = Vec.ExtractMostSignificantBits(none) >> done << done;
            if (bits != 0)
            {
                if (!TMode.Shared)
                {
                    Vec.Store(Vec.ConditionalSelect(none, marker, old), at);
                    total += BitOperations.PopCount(bits);
                }
                else
                {
                    total += MarkerFillScalar.Apply<TMode>(at + done, n - done);
                }
            }
            i += n;
        }
        return total;
    }
}
