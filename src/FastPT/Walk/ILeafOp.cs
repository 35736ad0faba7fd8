namespace FastPT.Walk;

/// <summary>
/// One operation the range walker applies to leaf entries. Implemented by structs so the
/// JIT specialises the walker per operation (no interface calls in the loop).
/// </summary>
public unsafe interface ILeafOp
{
    /// <summary>Empty upper entries the range touches get fresh tables (lazy allocation for markers).</summary>
    bool PopulateTables { get; }

    /// <summary>A huge leaf the range covers entirely is still split (e.g. file THPs for uffd-wp).</summary>
    bool SplitCoveredHuge(ulong entry, int level);

    /// <summary>
    /// Applies the operation to <paramref name="count"/> consecutive PTEs mapping va onward.
    /// Adds to <paramref name="changed"/> and sets bit i of <paramref name="flush"/> (512 bits)
    /// when entry i needs a TLB flush.
    /// </summary>
    void Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush);

    /// <summary>Applies the operation to a huge leaf (level 2 or 3) the range covers entirely.</summary>
    void Huge(ulong* entry, int level, ulong va, ref long changed, ref bool flush);

    /// <summary>After a PTE table the range covered entirely: return it if it is now empty (zap).</summary>
    bool FreeEmptyCoveredTables { get; }
}
