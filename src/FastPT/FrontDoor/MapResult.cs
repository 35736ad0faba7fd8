namespace FastPT;

/// <summary>What <see cref="PageTable.MapRange"/> wrote: the leaves of each size and the tables it took.</summary>
/// <param name="Leaves4K">4 KiB leaves (PTEs) written.</param>
/// <param name="Leaves2M">2 MiB leaves (PDEs with PS) written.</param>
/// <param name="Leaves1G">1 GiB leaves (PDPTEs with PS) written.</param>
/// <param name="TablesAllocated">Tables taken from the table memory on the way.</param>
public readonly record struct MapResult(long Leaves4K, long Leaves2M, long Leaves1G, int TablesAllocated);
