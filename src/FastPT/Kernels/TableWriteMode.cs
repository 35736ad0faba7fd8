using System.Runtime.CompilerServices;

namespace FastPT.Kernels;

/// <summary>
/// How a kernel writes entries back, as a type argument so the JIT compiles each mode
/// separately and the mode test folds away. Every atomic commit of a shared-tables kernel
/// goes through the mode's <see cref="CompareExchange"/> or <see cref="And"/>, so a test can
/// pass a mode that races the slot right before the commit and prove nothing set
/// concurrently is lost (and that no commit bypasses the mode).
/// </summary>
internal unsafe interface ITableWriteMode
{
    /// <summary>
    /// True when translations may run concurrently and set A/D: every change is a
    /// compare-exchange against the value the kernel read, retried on failure.
    /// </summary>
    static abstract bool Shared { get; }

    /// <summary>Writes <paramref name="value"/> if the slot still holds <paramref name="comparand"/>; returns what it held.</summary>
    static abstract ulong CompareExchange(ulong* slot, ulong value, ulong comparand);

    /// <summary>ANDs <paramref name="mask"/> into the slot; returns what it held before.</summary>
    static abstract ulong And(ulong* slot, ulong mask);
}

/// <summary>Nothing else touches the tables: plain (SIMD) stores.</summary>
internal readonly unsafe struct ExclusiveTables : ITableWriteMode
{
    public static bool Shared => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong CompareExchange(ulong* slot, ulong value, ulong comparand)
    {
        ulong now = *slot;
        if (now == comparand)
            *slot = value;
        return now;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong And(ulong* slot, ulong mask)
    {
        ulong now = *slot;
        *slot = now & mask;
        return now;
    }
}

/// <summary>Concurrent walkers may set A/D bits: atomic read-modify-write per changed entry.</summary>
internal readonly unsafe struct SharedTables : ITableWriteMode
{
    public static bool Shared => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong CompareExchange(ulong* slot, ulong value, ulong comparand) =>
        Interlocked.CompareExchange(ref *slot, value, comparand);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong And(ulong* slot, ulong mask) => Interlocked.And(ref *slot, mask);
}

/// <summary>The one place a kernel's scalar path commits a changed entry in either mode.</summary>
internal static unsafe class TableWrite
{
    /// <summary>
    /// Writes <paramref name="value"/> over the entry last read as <paramref name="seen"/>: a
    /// plain store for exclusive tables; for shared ones a compare-exchange that fails (and
    /// updates <paramref name="seen"/> to what is there now) when a walker set A/D meanwhile,
    /// so the caller re-applies its rule and no concurrently set bit is lost.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryCommit<TMode>(ulong* slot, ulong value, ref ulong seen) where TMode : struct, ITableWriteMode
    {
        if (!TMode.Shared)
        {
            *slot = value;
            return true;
        }
        ulong now = TMode.CompareExchange(slot, value, seen);
        if (now == seen)
            return true;
        seen = now;
        return false;
    }
}
