namespace FastPT.Walk;

/// <summary>What an operation wants done with a huge leaf it was shown.</summary>
internal enum HugeAction
{
    /// <summary>The operation handled the leaf (or left it alone): move on.</summary>
    Done,
    /// <summary>Replace the leaf with a table of 512 equivalent entries and walk those.</summary>
    Split,
    /// <summary>The operation put a table in the slot itself (a split with its own rule): walk it.</summary>
    Descend,
    /// <summary>End the walk at <see cref="ILeafOp.StopAt"/>.</summary>
    Stop,
}

/// <summary>
/// One operation the range walker applies to leaf entries. Implemented by structs so the
/// JIT specialises the walker per operation (no interface calls in the loop). The walker
/// shows an operation every part of its range exactly once: runs of PTEs, huge leaves
/// (split first when <see cref="SplitsHuge"/> says so) and holes without a table.
/// </summary>
internal unsafe interface ILeafOp
{
    /// <summary>Empty upper entries the range touches get fresh tables (lazy allocation for markers).</summary>
    bool PopulateTables { get; }

    /// <summary>After a PTE table the range covered entirely: return it if it is now empty (zap).</summary>
    bool FreeEmptyCoveredTables { get; }

    /// <summary>
    /// Whether a huge leaf is split before the walk goes on (decided from the entry alone, so
    /// a structure-only pre-pass can make the same tables): <paramref name="covered"/> says
    /// whether the range covers the whole leaf.
    /// </summary>
    bool SplitsHuge(ulong entry, int level, bool covered);

    /// <summary>
    /// A huge leaf (level 2 or 3, present or swap-format) at <paramref name="leafVa"/> of which
    /// the range covers [from, to), not split by <see cref="SplitsHuge"/>. Set
    /// <paramref name="flush"/> when a TLB may hold what was changed (the walker flushes the
    /// whole leaf).
    /// </summary>
    HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush);

    /// <summary>
    /// Applies the operation to <paramref name="count"/> consecutive PTEs mapping va onward.
    /// Adds to <paramref name="changed"/> and sets bit i of <paramref name="flush"/> (512 bits)
    /// when entry i needs a TLB flush. False ends the walk at <see cref="StopAt"/>.
    /// </summary>
    bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush);

    /// <summary>
    /// [va, end) has no table below an empty entry (only when <see cref="PopulateTables"/> is
    /// false). False ends the walk at <see cref="StopAt"/>.
    /// </summary>
    bool Hole(ulong va, ulong end);

    /// <summary>Where the walk resumes after a member returned false or <see cref="HugeAction.Stop"/>.</summary>
    ulong StopAt { get; }
}
