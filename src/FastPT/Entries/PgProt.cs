using FastPT.Entries;

namespace FastPT;

/// <summary>Linux x86-64 page protections (pgprot values), as the kernel builds them.</summary>
public static class PgProt
{
    /// <summary>PAGE_NONE: A|PROTNONE.</summary>
    public const ulong None = 0x120;
    /// <summary>PAGE_SHARED: P|RW|US|A|NX.</summary>
    public const ulong Shared = 0x8000_0000_0000_0027;
    /// <summary>PAGE_SHARED_EXEC: P|RW|US|A.</summary>
    public const ulong SharedExec = 0x27;
    /// <summary>PAGE_READONLY: P|US|A|NX (the same as PAGE_COPY).</summary>
    public const ulong ReadOnly = 0x8000_0000_0000_0025;
    /// <summary>PAGE_READONLY_EXEC: P|US|A.</summary>
    public const ulong ReadOnlyExec = 0x25;
    /// <summary>PAGE_COPY: a private writable mapping before COW (read-only).</summary>
    public const ulong Copy = ReadOnly;
    /// <summary>PAGE_COPY_EXEC.</summary>
    public const ulong CopyExec = ReadOnlyExec;

    /// <summary>A user page-table (non-leaf) entry: P|RW|US|A|D (_PAGE_TABLE).</summary>
    public const ulong Table = 0x67;
    /// <summary>A kernel page-table entry: P|RW|A|D (_KERNPG_TABLE).</summary>
    public const ulong KernelTable = 0x63;

    /// <summary>
    /// _PAGE_CHG_MASK of 6.12: the bits pte_modify keeps from the old entry
    /// (PFN, PWT, PCD, PAT, A, D, special, uffd-wp, soft-dirty, devmap, saved-dirty).
    /// </summary>
    public const ulong ChangeMask = 0x060F_FFFF_FFFF_FEF8;

    /// <summary>_HPAGE_CHG_MASK: the common mask plus PSE and the large-page PAT bit.</summary>
    public const ulong HugeChangeMask = ChangeMask | Pte.PageSize | Pte.PatLarge;

    /// <summary>vm_get_page_prot for a MAP_SHARED mapping with the given rights (no exec).</summary>
    public static ulong ForShared(bool read, bool write) => write ? Shared : read ? ReadOnly : None;

    /// <summary>vm_get_page_prot for a MAP_PRIVATE mapping: writes go through COW, so never RW.</summary>
    public static ulong ForPrivate(bool read, bool write) => read || write ? Copy : None;
}
