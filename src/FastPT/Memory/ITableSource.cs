namespace FastPT;

/// <summary>
/// Where page tables live: hands out zeroed, 4 KiB-aligned tables of 512 entries and
/// maps the physical addresses written into entries back to pointers.
/// </summary>
public unsafe interface ITableSource
{
    /// <summary>A zeroed table, or false when the source is exhausted (nothing changes then).</summary>
    bool TryAllocate(out ulong physical);

    /// <summary>The table at a physical address this source handed out.</summary>
    ulong* Table(ulong physical);

    /// <summary>
    /// The table at a physical address read from an entry that may be hostile (a guest wrote
    /// it), or null when the source has no memory there; never a pointer outside its memory.
    /// Sources whose tables only FastPT writes may answer as <see cref="Table"/> does.
    /// </summary>
    ulong* TryTable(ulong physical) => Table(physical);

    /// <summary>Returns a table; its contents are irrelevant afterwards.</summary>
    void Free(ulong physical);

    /// <summary>
    /// Returns a table the caller has just seen to be all zero (an emptied table unlinked by a
    /// walk), so the source may hand it out again without clearing it.
    /// </summary>
    void FreeZeroed(ulong physical) => Free(physical);

    /// <summary>Tables handed out and not yet freed.</summary>
    long TablesInUse { get; }

    /// <summary>
    /// Whether <paramref name="physical"/> is the address of a table in memory this source owns
    /// (handed out or free), so <see cref="Table"/> may be called on it. Lets
    /// <see cref="Paging.AddressSpace.Verify"/> follow links it does not trust without touching
    /// foreign memory. A source that cannot tell says true.
    /// </summary>
    bool ContainsTable(ulong physical) => true;
}
