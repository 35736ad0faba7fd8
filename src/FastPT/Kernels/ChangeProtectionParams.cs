using FastPT.Entries;

namespace FastPT;

/// <summary>change_protection's cp_flags (include/linux/mm.h).</summary>
[Flags]
public enum ChangeProtectionFlags
{
    /// <summary>No flag: a plain protection change.</summary>
    None = 0,
    /// <summary>MM_CP_TRY_CHANGE_WRITABLE: set RW on entries where that is safe.</summary>
    TryChangeWritable = 1 << 0,
    /// <summary>MM_CP_UFFD_WP: userfaultfd write-protect.</summary>
    UffdWp = 1 << 2,
    /// <summary>MM_CP_UFFD_WP_RESOLVE: userfaultfd unprotect.</summary>
    UffdWpResolve = 1 << 3,
}

/// <summary>
/// Everything the per-entry rule needs, precomputed once per call so the kernels only do
/// bit logic: the new protection, the flags, and the few VMA facts can_change_pte_writable
/// and the marker rule read.
/// </summary>
public readonly struct ChangeProtectionParams
{
    /// <summary>The parameters as Linux's change_protection sees them.</summary>
    /// <param name="newProt">The new pgprot (see <see cref="PgProt"/>).</param>
    /// <param name="flags">cp_flags.</param>
    /// <param name="useMarkers">Empty entries get uffd-wp markers on protect.</param>
    /// <param name="vmaWritable">The VMA has VM_WRITE.</param>
    /// <param name="vmaShared">The VMA has VM_SHARED.</param>
    /// <param name="vmaUffdWp">The VMA is registered for userfaultfd write-protect.</param>
    /// <exception cref="ArgumentException">UffdWp and UffdWpResolve together.</exception>
    public ChangeProtectionParams(ulong newProt, ChangeProtectionFlags flags, bool useMarkers,
        bool vmaWritable, bool vmaShared, bool vmaUffdWp)
    {
        if ((flags & ChangeProtectionFlags.UffdWp) != 0 && (flags & ChangeProtectionFlags.UffdWpResolve) != 0)
            throw new ArgumentException("UffdWp and UffdWpResolve together are meaningless (Linux BUGs on MM_CP_UFFD_WP_ALL)", nameof(flags));
        NewProt = newProt;
        Flags = flags;
        UseMarkers = useMarkers;
        VmaWritable = vmaWritable;
        VmaShared = vmaShared;
        VmaUffdWp = vmaUffdWp;
    }

    /// <summary>The new pgprot.</summary>
    public ulong NewProt { get; }
    /// <summary>cp_flags.</summary>
    public ChangeProtectionFlags Flags { get; }
    /// <summary>userfaultfd_wp_use_markers: empty entries get uffd-wp markers on protect.</summary>
    public bool UseMarkers { get; }
    /// <summary>The VMA has VM_WRITE.</summary>
    public bool VmaWritable { get; }
    /// <summary>The VMA has VM_SHARED.</summary>
    public bool VmaShared { get; }
    /// <summary>The VMA is registered for userfaultfd write-protect.</summary>
    public bool VmaUffdWp { get; }

    /// <summary>A userfaultfd write-protect (MM_CP_UFFD_WP).</summary>
    public bool Protect => (Flags & ChangeProtectionFlags.UffdWp) != 0;
    /// <summary>A userfaultfd unprotect (MM_CP_UFFD_WP_RESOLVE).</summary>
    public bool Resolve => (Flags & ChangeProtectionFlags.UffdWpResolve) != 0;
    /// <summary>RW may be set where safe (MM_CP_TRY_CHANGE_WRITABLE).</summary>
    public bool TryWritable => (Flags & ChangeProtectionFlags.TryChangeWritable) != 0;
    /// <summary>Whether the walk must allocate tables to put markers into empty entries.</summary>
    public bool PopulateTables => Protect && UseMarkers;

    /// <summary>mprotect-style change with no userfaultfd flag.</summary>
    public static ChangeProtectionParams Mprotect(ulong newProt, bool writable, bool shared, bool uffdWp = false) =>
        new(newProt, writable ? ChangeProtectionFlags.TryChangeWritable : 0, false, writable, shared, uffdWp);

    /// <summary>A value with only the uffd-wp part set, for tests and benchmarks of raw tables.</summary>
    public static ChangeProtectionParams UffdWriteProtect(ulong newProt, bool useMarkers) =>
        new(newProt, ChangeProtectionFlags.UffdWp, useMarkers, true, true, true);

    /// <summary>A userfaultfd unprotect of raw tables, setting RW where safe.</summary>
    public static ChangeProtectionParams UffdUnprotect(ulong newProt) =>
        new(newProt, ChangeProtectionFlags.UffdWpResolve | ChangeProtectionFlags.TryChangeWritable, false, true, true, true);

    internal static ulong DefaultProt => PgProt.Shared;
}
