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

    /// <summary>Returns a table; its contents are irrelevant afterwards.</summary>
    void Free(ulong physical);

    long TablesInUse { get; }
}
