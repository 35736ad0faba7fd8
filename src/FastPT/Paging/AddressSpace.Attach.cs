using FastPT.Memory;

namespace FastPT.Paging;

public sealed unsafe partial class AddressSpace
{
    /// <summary>Bits 12..51 of CR3: the root table's physical address.</summary>
    public const ulong Cr3RootMask = 0x000F_FFFF_FFFF_F000;

    /// <summary>
    /// An address space over tables someone else built (a guest's, starting at its CR3):
    /// <see cref="Translate(ulong, AccessType, in CpuMode, bool)"/> and the range verbs work on
    /// them in place, reaching every table through <paramref name="tables"/> only (use a
    /// <see cref="GuestMemoryTableSource"/> over the guest's RAM, so a hostile link ends in a
    /// defined outcome instead of a stray access). The guest's tables are never freed: not by
    /// <see cref="Dispose"/>, nor when a zap or unmap empties them. Tables FastPT itself must
    /// add (lazy tables, splits) come from the source's pool.
    /// </summary>
    /// <param name="cr3">The guest's CR3: bits 12..51 locate the root; the PCID or PWT/PCD
    /// (bits 0..11) and bit 63 are the TLB's business (<see cref="Tlb.SoftwareTlb.WriteCr3"/>).</param>
    /// <param name="levels">4, or 5 with CR4.LA57.</param>
    public static AddressSpace Attach(ITableSource tables, ulong cr3, int levels = 4)
    {
        var space = new AddressSpace(tables, levels, attached: true);
        space.LoadRoot(cr3);
        return space;
    }

    /// <summary>True for a space over tables it did not build (<see cref="Attach"/>).</summary>
    public bool IsAttached { get; }

    /// <summary>
    /// Walks from another root from now on, as a MOV to CR3 does (attached spaces only; the
    /// TLB's own flush rules are <see cref="Tlb.SoftwareTlb.WriteCr3"/>). Throws, changing
    /// nothing, when the root table is not in the source's memory.
    /// </summary>
    public void LoadRoot(ulong cr3)
    {
        if (!IsAttached)
            throw new InvalidOperationException("only an attached address space changes its root; this one owns its tables and its root");
        ulong root = cr3 & Cr3RootMask;
        if (TryTable(root) == null)
            throw new ArgumentOutOfRangeException(nameof(cr3), $"CR3 0x{cr3:X}: the root table at 0x{root:X} is not in the table source's memory{(_guest != null ? $" ({_guest.Describe()})" : "")}");
        Root = root;
    }
}
