namespace FastPT;

/// <summary>How a walk ended (<see cref="WalkResult.Status"/>).</summary>
public enum WalkStatus
{
    /// <summary>The whole range was processed.</summary>
    Complete,
    /// <summary>The page budget ran out; resume at <see cref="WalkResult.WalkEnd"/>.</summary>
    BudgetExhausted,
    /// <summary>
    /// A table could not be allocated. Everything before <see cref="WalkResult.WalkEnd"/> was
    /// processed and every table is consistent; the flush plan covers what changed.
    /// </summary>
    OutOfTables,
    /// <summary>
    /// The operation ended the walk (a scan whose output is full or whose page limit was
    /// reached); everything before <see cref="WalkResult.WalkEnd"/> was processed.
    /// </summary>
    Stopped,
    /// <summary>
    /// The entry covering <see cref="WalkResult.WalkEnd"/> links to a table outside the table
    /// source's memory (a guest-written link into a hole or beyond its RAM). Everything before
    /// WalkEnd was processed and is in the flush plan; that entry and everything after it are
    /// untouched (a parallel walk may have done parts after it: see <see cref="FastPT.Walk.WalkOptions.Parallelism"/>).
    /// To go on past it, resume at the end of the range that entry covers.
    /// </summary>
    OutsideGuestMemory,
}

/// <summary>What a walk did. <see cref="EntriesChanged"/> counts as Linux's change_protection does.</summary>
/// <param name="Status">How the walk ended.</param>
/// <param name="WalkEnd">Where it ended: the range's end when complete, else the first address not processed.</param>
/// <param name="EntriesChanged">Entries the walk changed.</param>
/// <param name="TablesAllocated">Tables it took from the table source.</param>
/// <param name="TablesFreed">Tables it gave back (emptied by an unmap).</param>
/// <param name="HugeSplits">Huge leaves it split into smaller ones.</param>
public readonly record struct WalkResult(
    WalkStatus Status,
    ulong WalkEnd,
    long EntriesChanged,
    int TablesAllocated,
    int TablesFreed,
    int HugeSplits)
{
    /// <summary>The whole range was processed (<see cref="WalkStatus.Complete"/>).</summary>
    public bool Complete => Status == WalkStatus.Complete;
}
