namespace FastPT;

/// <summary>
/// PAGEMAP_SCAN's page categories (PAGE_IS_*, include/uapi/linux/fs.h), in the ioctl's bit
/// order. The per-entry scan kernels store the low eight in one byte per entry; GUARD (bit 8)
/// is a VMA-level fact they never produce.
/// </summary>
[Flags]
public enum PageCategories : ulong
{
    None = 0,
    WpAllowed = 1 << 0,
    Written = 1 << 1,
    File = 1 << 2,
    Present = 1 << 3,
    Swapped = 1 << 4,
    PfnZero = 1 << 5,
    Huge = 1 << 6,
    SoftDirty = 1 << 7,
    Guard = 1 << 8,
    All = (1 << 9) - 1,
}
