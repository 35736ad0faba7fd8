namespace FastPT;

public enum PageSize { Size4K, Size2M, Size1G }

public enum AccessType { Read, Write, Execute }

/// <summary>#PF error code bits (SDM 4.7).</summary>
[Flags]
public enum PageFaultError : uint
{
    None = 0,
    Present = 1 << 0,
    Write = 1 << 1,
    User = 1 << 2,
    Reserved = 1 << 3,
    InstructionFetch = 1 << 4,
    ProtectionKey = 1 << 5,
}

public static class PageSizes
{
    /// <summary>The paging level whose entry maps a page of this size (1 = PTE).</summary>
    public static int LeafLevel(this PageSize size) => (int)size + 1;

    public static ulong Bytes(this PageSize size) => 1UL << (12 + 9 * (int)size);
}
