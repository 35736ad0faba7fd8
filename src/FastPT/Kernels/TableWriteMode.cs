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
