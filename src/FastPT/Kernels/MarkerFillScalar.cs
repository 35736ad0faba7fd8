using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>The scalar marker fill: the twin of the vector kernels.</summary>
[SkipLocalsInit]
internal static unsafe class MarkerFillScalar
{
    public static long Apply<TMode>(ulong* entries, int count)
        where TMode : struct, ITableWriteMode
    {
        long n = 0;
        for (int i = 0; i < count; i++)
        {
            ulong old = TMode.Shared ? Volatile.Read(ref entries[i]) : entries[i];
            if (!LinuxPte.IsNone(old))
                continue;
            if (TMode.Shared)
            {
                // Only a none entry is replaced; if someone filled it meanwhile, it stays theirs.
                if (Interlocked.CompareExchange(ref entries[i], PteMarker.UffdWp, old) != old)
                {
                    i--;
                    continue;
                }
            }
            else
            {
                entries[i] = PteMarker.UffdWp;
            }
            n++;
        }
        return n;
    }
}
