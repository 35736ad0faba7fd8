namespace FastPT.Walk;

/// <summary>
/// How a batch verb walks: whether translations run beside it, how many threads it may use,
/// and how many pages it may cover before it stops with a resume point. The default value
/// is an exclusive, single-threaded, unbounded walk.
/// </summary>
public readonly record struct WalkOptions
{
    /// <summary>
    /// Translations (a running vCPU, concurrent <see cref="FastPT.Paging.AddressSpace.Translate(ulong, AccessType, in CpuMode, bool)"/>)
    /// may set A/D bits during the walk: every leaf change is a compare-exchange, so no bit
    /// set between the read and the write is lost.
    /// </summary>
    public bool SharedTables { get; init; }

    /// <summary>
    /// Threads the walk may use: 0 or 1 = the calling thread only; n &gt; 1 = up to n
    /// (ranges under 64 MiB, budgeted walks and zaps that free tables run on the calling thread);
    /// -1 = every core. On tables that link one table at two levels (only hostile guest
    /// tables do), a parallel walk may stop where a serial one would go on or stop elsewhere,
    /// and parts of the range after its <see cref="WalkResult.WalkEnd"/> may have been
    /// processed (their flushes are in the plan); it never allocates a table off the calling
    /// thread.
    /// </summary>
    public int Parallelism { get; init; }

    /// <summary>Pages the walk may cover before it stops with <see cref="WalkStatus.BudgetExhausted"/>; 0 = no limit.</summary>
    public long BudgetPages { get; init; }

    internal long Budget => BudgetPages > 0 ? BudgetPages : long.MaxValue;

    internal int Threads => Parallelism < 0 ? Environment.ProcessorCount : Math.Max(1, Parallelism);

    internal void Validate()
    {
        if (Parallelism < -1)
            throw new ArgumentOutOfRangeException(nameof(Parallelism), Parallelism, "Parallelism is 0 or 1 (this thread), n > 1 (up to n threads) or -1 (every core)");
        if (BudgetPages < 0)
            throw new ArgumentOutOfRangeException(nameof(BudgetPages), BudgetPages, "BudgetPages is 0 (no limit) or a positive page count");
    }
}
