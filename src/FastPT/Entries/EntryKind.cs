namespace FastPT.Entries;

/// <summary>How Linux reads a leaf entry.</summary>
internal enum EntryKind : byte
{
    /// <summary>pte_none: zero, or only A/D garbage.</summary>
    None,
    /// <summary>pte_present: P, or PROTNONE (PROT_NONE / NUMA hinting).</summary>
    Present,
    /// <summary>A swap-format entry that is not a marker (swap, migration, device, hwpoison).</summary>
    Swap,
    /// <summary>A PTE marker (uffd-wp, poisoned, guard).</summary>
    Marker,
}
