namespace FastPT;

/// <summary>
/// The bits of a leaf entry that <see cref="PageTable.MapRange"/> writes, at their hardware
/// positions (Intel SDM vol. 3A, 4.5). Present is implied; a page without
/// <see cref="Writable"/> is read-only, without <see cref="User"/> supervisor-only.
/// </summary>
[Flags]
public enum PageFlags : ulong
{
    /// <summary>A present, read-only, supervisor-only, executable page.</summary>
    None = 0,

    /// <summary>R/W (bit 1): writes are allowed.</summary>
    Writable = 1UL << 1,

    /// <summary>U/S (bit 2): user-mode (CPL 3) accesses are allowed.</summary>
    User = 1UL << 2,

    /// <summary>PWT (bit 3): write-through caching.</summary>
    WriteThrough = 1UL << 3,

    /// <summary>PCD (bit 4): caching disabled.</summary>
    CacheDisable = 1UL << 4,

    /// <summary>A (bit 5): already accessed.</summary>
    Accessed = 1UL << 5,

    /// <summary>D (bit 6): already written.</summary>
    Dirty = 1UL << 6,

    /// <summary>PAT: bit 7 of a 4 KiB entry; <see cref="PageTable.MapRange"/> moves it to bit 12 in a 2 MiB or 1 GiB leaf.</summary>
    Pat = 1UL << 7,

    /// <summary>G (bit 8): global, kept in the TLB across CR3 loads when CR4.PGE is set.</summary>
    Global = 1UL << 8,

    /// <summary>XD (bit 63): no instruction fetches (with EFER.NXE).</summary>
    NoExecute = 1UL << 63,
}
