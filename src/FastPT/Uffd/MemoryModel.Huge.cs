using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Uffd;

public sealed unsafe partial class MemoryModel
{
    private const ulong HugeSize = 1UL << 21;

    private static bool IsHugeZero(ulong pmd) => HugePfn(pmd) == FrameAllocator.HugeZeroPfn;

    /// <summary>The first frame of a 2 MiB leaf, undoing the L1TF inversion of a PROT_NONE one.</summary>
    private static ulong HugePfn(ulong pmd) =>
        Pte.Pfn((L1tf.NeedsInvert(pmd) ? pmd ^ Pte.Pfn2MMask : pmd) & Pte.Pfn2MMask);

    /// <summary>The pmd slot for va, or null when upper tables are missing.</summary>
    private ulong* PmdSlot(ulong va) => Space.TryGetEntry(va, 2);

    private static bool IsHugeLeaf(ulong pmd) => (pmd & Pte.PageSize) != 0 && LinuxPte.IsPmdPresent(pmd);

    /// <summary>Splits the huge leaves an operation on [start, end) covers only in part (__split_huge_pmd).</summary>
    private void SplitHugeAtEdges(ulong start, ulong end, FlushPlan flush)
    {
        if ((start & (HugeSize - 1)) != 0)
            SplitHuge(start, flush);
        if ((end & (HugeSize - 1)) != 0)
            SplitHuge(end, flush);
    }

    /// <summary>
    /// Replaces a huge pmd with a table: a THP becomes 512 PTEs of its pages; the huge zero
    /// page becomes 512 special PTEs of the 4 KiB zero page made from the VMA's page
    /// protection, not from the pmd (__split_huge_zero_page_pmd), uffd-wp carried over.
    /// The huge translation is flushed (pmdp_invalidate): the page size changes.
    /// </summary>
    private void SplitHuge(ulong va, FlushPlan flush)
    {
        ulong* slot = PmdSlot(va);
        if (slot == null || !IsHugeLeaf(*slot))
            return;
        ulong pmd = *slot;
        if ((pmd & Pte.Present) != 0)
            flush.Add(va & ~(HugeSize - 1), (va & ~(HugeSize - 1)) + HugeSize);
        if (!IsHugeZero(pmd))
        {
            Space.Split(va, 2);
            return;
        }
        if (!TrySplitHugeZero(va, slot))
            throw new TableAllocationException($"out of page tables while splitting the huge zero page at 0x{va:X}");
    }

    /// <summary>The huge zero page's split; false (nothing changed) when no table can be had.</summary>
    private bool TrySplitHugeZero(ulong va, ulong* slot)
    {
        ulong pmd = *slot;
        var vma = FindVma(va) ?? throw new InvalidOperationException($"a huge zero page at 0x{va:X} outside every VMA");
        if (!Space.Tables.TryAllocate(out ulong table))
            return false;
        ulong pte = Leaf(vma, FrameAllocator.ZeroPfn) | Pte.Special;
        if ((pmd & Pte.UffdWp) != 0)
            pte = LinuxPte.MkUffdWp(pte);
        new Span<ulong>(Space.Table(table), 512).Fill(pte);
        System.Threading.Volatile.Write(ref *slot, table | PgProt.Table);
        return true;
    }
}
