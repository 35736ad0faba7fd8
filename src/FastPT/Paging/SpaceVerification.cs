namespace FastPT.Paging;

/// <summary>
/// What <see cref="AddressSpace.Verify"/> found: every problem as one line saying where (level,
/// table, index, virtual address), what the entry holds and what is wrong; empty when the
/// tables are sound.
/// </summary>
public sealed class SpaceVerification
{
    internal SpaceVerification(IReadOnlyList<string> problems, long tablesReachable, long tablesInUse)
    {
        Problems = problems;
        TablesReachable = tablesReachable;
        TablesInUse = tablesInUse;
    }

    /// <summary>One line per problem found, in walk order.</summary>
    public IReadOnlyList<string> Problems { get; }

    public bool IsValid => Problems.Count == 0;

    /// <summary>Tables reached from the root, the root included (each counted once).</summary>
    public long TablesReachable { get; }

    /// <summary>The table source's <see cref="P:FastPT.Memory.ITableSource.TablesInUse"/> when verified.</summary>
    public long TablesInUse { get; }

    /// <summary>Throws <see cref="InvalidOperationException"/> listing every problem, if there is one.</summary>
    public void ThrowIfInvalid()
    {
        if (!IsValid)
            throw new InvalidOperationException(ToString());
    }

    public override string ToString() => IsValid
        ? $"page tables sound: {TablesReachable} tables reachable, {TablesInUse} in use"
        : $"page tables broken ({Problems.Count} problem{(Problems.Count == 1 ? "" : "s")}; {TablesReachable} tables reachable, {TablesInUse} in use):\n  "
            + string.Join("\n  ", Problems);
}
