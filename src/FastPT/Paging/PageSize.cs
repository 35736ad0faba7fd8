namespace FastPT;

/// <summary>The x86-64 page sizes.</summary>
public enum PageSize
{
    /// <summary>4 KiB, mapped by a PTE.</summary>
    Size4K,
    /// <summary>2 MiB, mapped by a PDE with PS.</summary>
    Size2M,
    /// <summary>1 GiB, mapped by a PDPTE with PS.</summary>
    Size1G,
}

/// <summary>The kind of access a translation checks.</summary>
public enum AccessType
{
    /// <summary>A data read.</summary>
    Read,
    /// <summary>A data write.</summary>
    Write,
    /// <summary>An instruction fetch.</summary>
    Execute,
}

/// <summary>#PF error code bits (SDM 4.7).</summary>
[Flags]
public enum PageFaultError : uint
{
    /// <summary>No bit: a not-present fault on a read by the supervisor.</summary>
    None = 0,
    /// <summary>P: the fault was a protection violation (the page was present).</summary>
    Present = 1 << 0,
    /// <summary>W/R: the access was a write.</summary>
    Write = 1 << 1,
    /// <summary>U/S: the access was a user-mode access.</summary>
    User = 1 << 2,
    /// <summary>RSVD: a reserved bit was set in an entry.</summary>
    Reserved = 1 << 3,
    /// <summary>I/D: the access was an instruction fetch.</summary>
    InstructionFetch = 1 << 4,
    /// <summary>PK: a protection-key violation.</summary>
    ProtectionKey = 1 << 5,
}

/// <summary>Helpers on <see cref="PageSize"/>.</summary>
public static class PageSizes
{
    /// <summary>The paging level whose entry maps a page of this size (1 = PTE).</summary>
    public static int LeafLevel(this PageSize size) => (int)size + 1;

    /// <summary>The page size in bytes.</summary>
    public static ulong Bytes(this PageSize size) => 1UL << (12 + 9 * (int)size);
}
