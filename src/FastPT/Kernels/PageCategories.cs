namespace FastPT;

/// <summary>
/// PAGEMAP_SCAN's page categories (PAGE_IS_*, include/uapi/linux/fs.h), in the ioctl's bit
/// order. The per-entry scan kernels store the low eight in one byte per entry; GUARD (bit 8)
/// is a VMA-level fact they never produce.
/// </summary>
[Flags]
public enum PageCategories : ulong
{
    /// <summary>No category.</summary>
    None = 0,
    /// <summary>PAGE_IS_WPALLOWED: the VMA is registered for userfaultfd write-protect.</summary>
    WpAllowed = 1 << 0,
    /// <summary>PAGE_IS_WRITTEN: not write-protected (no uffd-wp bit or marker).</summary>
    Written = 1 << 1,
    /// <summary>PAGE_IS_FILE: file-backed (or shared) memory.</summary>
    File = 1 << 2,
    /// <summary>PAGE_IS_PRESENT: the entry maps a page.</summary>
    Present = 1 << 3,
    /// <summary>PAGE_IS_SWAPPED: a swap entry.</summary>
    Swapped = 1 << 4,
    /// <summary>PAGE_IS_PFNZERO: the page is the zero page.</summary>
    PfnZero = 1 << 5,
    /// <summary>PAGE_IS_HUGE: mapped by a huge leaf.</summary>
    Huge = 1 << 6,
    /// <summary>PAGE_IS_SOFT_DIRTY: the soft-dirty bit is set.</summary>
    SoftDirty = 1 << 7,
    /// <summary>PAGE_IS_GUARD: a guard region (a VMA-level fact).</summary>
    Guard = 1 << 8,
    /// <summary>Every category.</summary>
    All = (1 << 9) - 1,
}
