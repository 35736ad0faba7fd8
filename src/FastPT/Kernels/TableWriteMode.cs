namespace FastPT.Kernels;

/// <summary>
/// How a kernel writes entries back, as a type argument so the JIT compiles each mode
/// separately and the mode test folds away.
/// </summary>
public interface ITableWriteMode
{
    /// <summary>
    /// True when translations may run concurrently and set A/D: every change is a
    /// compare-exchange against the value the kernel read, retried on failure.
    /// </summary>
    static abstract bool Shared { get; }
}

/// <summary>Nothing else touches the tables: plain (SIMD) stores.</summary>
public readonly struct ExclusiveTables : ITableWriteMode
{
    public static bool Shared => false;
}

/// <summary>Concurrent walkers may set A/D bits: atomic read-modify-write per changed entry.</summary>
public readonly struct SharedTables : ITableWriteMode
{
    public static bool Shared => true;
}

/// <summary>The one place a kernel's scalar path commits a changed entry in either mode.</summary>
public static unsafe class TableWrite
{
    /// <summary>
    /// Writes <paramref name="value"/> over the entry last read as <paramref name="seen"/>: a
    /// plain store for exclusive tables; for shared ones a compare-exchange that fails (and
    /// updates <paramref name="seen"/> to what is there now) when a walker set A/D meanwhile,
    /// so the caller re-applies its rule and no concurrently set bit is lost.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool TryCommit<TMode>(ulong* slot, ulong value, ref ulong seen) where TMode : struct, ITableWriteMode
    {
        if (!TMode.Shared)
        {
            *slot = value;
            return true;
        }
        ulong now = Interlocked.CompareExchange(ref *slot, value, seen);
        if (now == seen)
            return true;
        seen = now;
        return false;
    }
}
