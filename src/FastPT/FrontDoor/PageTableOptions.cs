namespace FastPT;

/// <summary>
/// How a <see cref="PageTable"/> is built and walked. Every property has a default, so
/// <c>new PageTableOptions()</c> is a 4-level table in native memory, walked by the calling
/// thread with no page budget.
/// </summary>
/// <example>
/// <code>
/// var options = new PageTableOptions { Levels = 5, SharedTables = true, Parallelism = -1 };
/// using var table = new PageTable(options);
/// </code>
/// </example>
public sealed record PageTableOptions
{
    /// <summary>Paging levels: 4 (48-bit addresses) or 5 (57-bit, LA57). Default 4.</summary>
    public int Levels { get; init; } = 4;

    /// <summary>
    /// Tables the native table memory may hold at once, root included; 0 = no limit. Only for
    /// tables in native memory: guest memory is limited by its length.
    /// </summary>
    public long MaxTables { get; init; }

    /// <summary>
    /// Threads a range verb may use: 0 or 1 = the calling thread; n &gt; 1 = up to n (ranges under
    /// 64 MiB and budgeted walks stay on the calling thread); -1 = every core.
    /// </summary>
    public int Parallelism { get; init; }

    /// <summary>
    /// A CPU (a running vCPU) or concurrent <see cref="PageTable.Translate"/> calls may set A/D
    /// bits while a verb runs: every entry change is then atomic, so no bit they set is lost.
    /// </summary>
    public bool SharedTables { get; init; }

    /// <summary>
    /// Pages a range verb may cover before it stops with <see cref="WalkStatus.BudgetExhausted"/>
    /// and a <see cref="WalkResult.WalkEnd"/> to resume from; 0 = no limit.
    /// </summary>
    public long BudgetPages { get; init; }
}
