using FastPT.Entries;

namespace FastPT.Uffd;

/// <summary>
/// A virtual memory area: [Start, End) with one backing, protection and userfaultfd state.
/// mprotect and registration split and merge these as Linux does; the model reuses removed
/// ones (<see cref="MemoryModel"/>'s free list), so every field is set where one is made.
/// </summary>
internal sealed class Vma
{
    public ulong Start;
    public ulong End;
    public Backing Backing;
    public MemoryProtection Protection;
    public bool UffdWp;
    public bool HugePageHint;
    public ShmemFile? File;
    /// <summary>VM_ACCOUNT: private writable memory is charged; mprotect sets and clears it (mprotect_fixup).</summary>
    public bool Account;
    /// <summary>
    /// Which anon_vma the VMA has (0: none yet). The first fault that allocates an anonymous
    /// page (or maps the huge zero page) assigns one; split halves share it; it decides merges.
    /// </summary>
    public int AnonVma;
    /// <summary>File page index mapped at <see cref="Start"/>.</summary>
    public long PageOffset;

    public bool Anonymous => Backing == Backing.Anon;
    public bool Shared => Backing == Backing.File;
    public bool MayRead => Protection != MemoryProtection.None;
    public bool MayWrite => Protection == MemoryProtection.ReadWrite;
    public long Pages => (long)((End - Start) >> 12);

    public long FilePage(ulong va) => PageOffset + (long)((va - Start) >> 12);

    /// <summary>
    /// vma->vm_page_prot: vm_get_page_prot of the flags, minus RW where write faults are
    /// wanted (writenotify): private mappings always (COW), shared ones while registered
    /// for uffd-wp.
    /// </summary>
    public ulong PageProt => Shared
        ? (MayWrite && !UffdWp ? PgProt.Shared : MayRead ? PgProt.ReadOnly : PgProt.None)
        : (MayRead ? PgProt.Copy : PgProt.None);

    /// <summary>
    /// vma_wants_manual_pte_write_upgrade: change_protection may set RW itself. Only private
    /// writable VMAs: for a shared one it asks vma_wants_writenotify with the VMA's own page
    /// protection, which write notification (here: uffd-wp registration) has already made
    /// read-only, so the "open changed the protection" test answers no. Checked on Linux 6.18:
    /// a dirty memfd page in a registered VMA write-faults after mprotect RW and after unprotect.
    /// </summary>
    public bool ManualWriteUpgrade => MayWrite && !Shared;

    /// <summary>
    /// vma_merge's test for two neighbours: equal flags, file and offset, and anon_vmas that
    /// can be shared (one of them has none, or they are the same; Linux 6.16+ with no fork).
    /// </summary>
    public bool CanMergeWith(Vma next) =>
        Protection == next.Protection && AnonVmaCompatible(next)
        && (AnonVma == 0 || next.AnonVma == 0 || AnonVma == next.AnonVma);

    /// <summary>
    /// anon_vma_compatible: adjacent, same file and offsets, flags equal except the access
    /// bits. A VMA without an anon_vma may take its neighbour's (find_mergeable_anon_vma).
    /// </summary>
    public bool AnonVmaCompatible(Vma next) =>
        End == next.Start && Backing == next.Backing && UffdWp == next.UffdWp && Account == next.Account
        && HugePageHint == next.HugePageHint && File == next.File
        && (File is null || FilePage(End) == next.PageOffset);
}
