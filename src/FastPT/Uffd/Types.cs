namespace FastPT.Uffd;

/// <summary>What backs a mapping: a shared file (shmem/memfd, MAP_SHARED) or private anonymous memory.</summary>
public enum Backing { File, Anon }

/// <summary>mprotect's PROT_NONE, PROT_READ, PROT_READ|PROT_WRITE.</summary>
public enum MemoryProtection { None, Read, ReadWrite }

/// <summary>userfaultfd features that change write-protect behaviour (a property of the one userfaultfd).</summary>
[Flags]
public enum UffdFeatures
{
    None = 0,
    /// <summary>UFFD_FEATURE_WP_UNPOPULATED: anonymous memory gets markers like file memory.</summary>
    WpUnpopulated = 1 << 13,
    /// <summary>UFFD_FEATURE_WP_ASYNC: a write resolves the protection itself; implies WpUnpopulated.</summary>
    WpAsync = 1 << 15,
}

public enum AccessOutcome
{
    /// <summary>The access completed (after any faults the kernel handles silently).</summary>
    Completed,
    /// <summary>A userfaultfd write-protect fault: the access waits for a resolve (see <see cref="UffdMessage"/>).</summary>
    WriteProtectFault,
    /// <summary>The protection forbids the access (SIGSEGV); nothing was done.</summary>
    SegmentationFault,
}

/// <summary>A uffd_msg of event UFFD_EVENT_PAGEFAULT.</summary>
public readonly record struct UffdMessage(byte Event, ulong Flags, ulong Address)
{
    public const byte EventPageFault = 0x12;
    public const ulong FlagWrite = 1 << 0;
    public const ulong FlagWp = 1 << 1;
}

public readonly record struct AccessResult(AccessOutcome Outcome, UffdMessage Message = default);

/// <summary>pagemap entry bits (fs/proc/task_mmu.c).</summary>
public static class PagemapBits
{
    public const ulong Present = 1UL << 63;
    public const ulong Swap = 1UL << 62;
    public const ulong File = 1UL << 61;
    /// <summary>PM_GUARD_REGION (6.14+): guard markers, which the model never produces.</summary>
    public const ulong Guard = 1UL << 58;
    public const ulong UffdWp = 1UL << 57;
    public const ulong MmapExclusive = 1UL << 56;
    public const ulong SoftDirty = 1UL << 55;
    public const ulong PfnMask = (1UL << 55) - 1;
}
