using FastPT.Entries;
using FastPT.Memory;

namespace FastPT.Paging;

public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// Replaces the huge leaf at <paramref name="level"/> (2 = 2 MiB, 3 = 1 GiB) that maps va
    /// with a table of 512 equivalent smaller entries. Present leaves keep every bit, with
    /// the PFN advanced per entry and PAT moved from bit 12 to bit 7 when the new entries
    /// are 4 KiB PTEs; a marker is copied into every slot, and a migration entry becomes 512
    /// migration entries for consecutive frames.
    /// Returns the physical address of the new table. Throws, changing nothing, when the
    /// table cannot be allocated.
    /// </summary>
    public ulong Split(ulong va, int level, ulong tableFlags = PgProt.Table)
    {
        if (level is not (2 or 3))
            throw new ArgumentOutOfRangeException(nameof(level), level, "only 2 MiB (level 2) and 1 GiB (level 3) leaves split");
        CheckTableFlags(tableFlags);
        ulong* slot = TryGetEntry(va, level);
        if (slot == null)
            throw new InvalidOperationException($"0x{va:X} has no level-{level} entry to split");
        ulong huge = *slot;
        bool present = LinuxPte.IsPmdPresent(huge);
        if (present && (huge & Pte.PageSize) == 0)
            throw new InvalidOperationException($"0x{va:X}: the level-{level} entry is a table, not a huge leaf");
        if (!present && LinuxPte.IsNone(huge))
            throw new InvalidOperationException($"0x{va:X}: the level-{level} entry is empty; nothing to split");
        if (!_tables.TryAllocate(out ulong tablePa))
            throw new TableAllocationException($"out of page tables while splitting the level-{level} leaf at 0x{va:X}; nothing was changed");
        FillSplit(Table(tablePa), huge, level);
        // The filled table is published with one store, so concurrent walkers see old or new.
        System.Threading.Volatile.Write(ref *slot, tablePa | tableFlags);
        return tablePa;
    }

    /// <summary>Fills a fresh table with the 512 entries equivalent to one huge leaf.</summary>
    internal static void FillSplit(ulong* table, ulong huge, int level)
    {
        if (!LinuxPte.IsPmdPresent(huge))
        {
            if (PteMarker.IsMarker(huge))
                new Span<ulong>(table, 512).Fill(huge);
            else
                FillSplitSwap(table, huge, level);
            return;
        }
        // L1TF: a PROT_NONE leaf stores its frame inverted, over the frame bits of its size.
        ulong hugeMask = level == 2 ? Pte.Pfn2MMask : Pte.Pfn1GMask;
        ulong childMask = level == 2 ? Pte.PfnMask : Pte.Pfn2MMask;
        bool inverted = L1tf.NeedsInvert(huge);
        ulong frame = (inverted ? huge ^ hugeMask : huge) & hugeMask;
        ulong flags = huge & ~Pte.PfnMask;
        if (level == 2)
        {
            // 4 KiB PTEs: PS goes, PAT moves from bit 12 to bit 7.
            flags &= ~Pte.PageSize;
            if ((huge & Pte.PatLarge) != 0)
                flags |= Pte.Pat4K;
        }
        else
        {
            flags |= huge & Pte.PatLarge;
        }
        ulong step = 1UL << Shift(level - 1);
        ulong invert = inverted ? childMask : 0;
        for (int i = 0; i < 512; i++)
            table[i] = ((frame + (ulong)i * step) ^ invert) | flags;
    }

    /// <summary>
    /// A huge swap-format entry that is not a marker is a THP migration entry: its offset is
    /// the frame number, so each smaller entry names its own frame (offset + i pages), with
    /// the soft-dirty, uffd-wp and exclusive flags of the huge entry, as Linux's split does.
    /// </summary>
    private static void FillSplitSwap(ulong* table, ulong huge, int level)
    {
        int type = SwapEntry.Type(huge);
        ulong offset = SwapEntry.Offset(huge);
        ulong flags = huge & SwapEntry.FlagBits;
        ulong pagesPerEntry = 1UL << (9 * (level - 2));
        for (int i = 0; i < 512; i++)
            table[i] = SwapEntry.Make(type, (offset + (ulong)i * pagesPerEntry) & SwapEntry.MaxOffset) | flags;
    }
}
