using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Walk;

namespace FastPT.Uffd;

public sealed unsafe partial class MemoryModel
{
    /// <summary>
    /// The /proc/pid/pagemap entry Linux would report for va, as read with CAP_SYS_ADMIN
    /// (PFNs and swap fields shown). Soft-dirty is never set: CONFIG_MEM_SOFT_DIRTY is off on
    /// the reference kernel. MMAP_EXCLUSIVE means "this page is mapped once": every file page is
    /// (each memfd is mapped by one VMA range), and the zero pages have no mapcount to count.
    /// </summary>
    public ulong Pagemap(ulong va)
    {
        var vma = FindVma(va);
        ulong* slot = Space.FindLeaf(va, out int level);
        ulong e = *slot;
        if (level >= 2 && !((level == 2 || level == 3) && IsHugeLeaf(e)))
            return 0; // no table below: a hole
        if (level >= 2)
        {
            ulong sub = (va >> 12) & ((1UL << (9 * (level - 1))) - 1);
            ulong flags = PagemapBits.Present | ((e & Pte.UffdWp) != 0 ? PagemapBits.UffdWp : 0);
            // pagemap's pmd path takes pmd_page without vm_normal_page: the huge zero page reads
            // as a file page, mapped by no one.
            if (IsHugeZero(e))
                flags |= PagemapBits.File;
            else
                flags |= PagemapBits.MmapExclusive | (vma is { Anonymous: false } ? PagemapBits.File : 0);
            return flags | (HugePfn(e) + sub);
        }
        switch (LinuxPte.Classify(e))
        {
            case EntryKind.None:
                return 0;
            case EntryKind.Present:
            {
                ulong flags = PagemapBits.Present | ((e & Pte.UffdWp) != 0 ? PagemapBits.UffdWp : 0);
                if ((e & Pte.Special) == 0) // the zero page has no struct page to report
                    flags |= PagemapBits.MmapExclusive | (vma is { Anonymous: false } ? PagemapBits.File : 0);
                return flags | L1tf.Pfn(e);
            }
            default:
            {
                ulong flags = PagemapBits.Swap | (LinuxPte.IsSwapUffdWpAny(e) ? PagemapBits.UffdWp : 0);
                return flags | (uint)SwapEntry.Type(e) | SwapEntry.Offset(e) << 5;
            }
        }
    }

    /// <summary>
    /// PAGEMAP_SCAN over [start, end) (Linux 6.18) on the walker: each VMA's part of the range
    /// goes through the scan kernels with the VMA's categories (WPALLOWED for async-mode
    /// registered VMAs, FILE for shmem pages, WRITTEN for empty entries and, in registered
    /// VMAs, table-less holes), into the caller's region buffer as the ioctl's vec (see
    /// <see cref="PageTableOps.Scan"/> for the output rules). With WP_MATCHING only async-mode
    /// VMAs take part; the kept written pages are write-protected in the same pass, and a
    /// written huge page kept only in part is split first and reported as if there was none.
    /// </summary>
    /// <param name="regions">The vec: regions are written here; when it is full the scan stops (see <see cref="PagemapScanResult.WalkEnd"/>).</param>
    /// <param name="flush">Receives what WP_MATCHING and the splits owe a TLB.</param>
    public PagemapScanResult Scan(ulong start, ulong end, in PagemapScanRequest request, Span<PageRegion> regions, FlushPlan flush)
    {
        ArgumentNullException.ThrowIfNull(flush);
        request.Validate();
        if ((start & 4095) != 0 || end <= start)
            throw new ArgumentException($"scan range [0x{start:X}, 0x{end:X}) must start page-aligned and be non-empty");
        end = (end + 4095) & ~4095UL;
        fixed (PageRegion* r = regions)
        {
            var output = new ScanOutput(r, regions.Length, request.MaxPages);
            for (int i = FirstEndingAfter(start); i < _vmas.Count && _vmas[i].Start < end; i++)
            {
                var vma = _vmas[i];
                bool wpAllowed = vma.UffdWp && Async;
                // pagemap_scan_test_walk: WP_MATCHING skips VMAs that cannot take async write
                // protection, and a mask that requires WPALLOWED skips them too.
                if (request.WriteProtectMatching && !wpAllowed
                    || !wpAllowed && (request.Mask & ~request.Inverted & PageCategories.WpAllowed) != 0
                    || wpAllowed && (request.Mask & request.Inverted & PageCategories.WpAllowed) != 0)
                    continue;
                var p = new ScanParams
                {
                    VmaCategories = wpAllowed ? PageCategories.WpAllowed : PageCategories.None,
                    NormalPageCategories = vma.Anonymous ? PageCategories.None : PageCategories.File,
                    EmptyIsWritten = true,
                    TrackSoftDirty = false, // CONFIG_MEM_SOFT_DIRTY is off on the reference kernel
                    ZeroPfn = FrameAllocator.ZeroPfn,
                    Mask = request.Mask,
                    AnyOf = request.AnyOf,
                    Inverted = request.Inverted,
                    Return = request.Return,
                    WriteProtect = request.WriteProtectMatching,
                };
                var op = new ScanOp(Space, &output, p, holeIsWritten: vma.UffdWp, FrameAllocator.HugeZeroPfn, flush, WalkOptions.SharedTables, splitter: this, unwritten: _unwritten);
                var w = RangeWalker.Walk(Space, Math.Max(start, vma.Start), Math.Min(end, vma.End), ref op, flush);
                if (!w.Complete)
                    return PageTableOps.Result(w, op, output);
            }
            return new PagemapScanResult(WalkStatus.Complete, output.Finish(), output.Found, end);
        }
    }

    /// <summary>The model's split of a huge zero page (its own rule) for a scan that keeps part of one.</summary>
    SplitOutcome IHugeSplitter.TrySplit(ulong leafVa, int level)
    {
        ulong* slot = PmdSlot(leafVa);
        if (level != 2 || slot == null || !IsHugeLeaf(*slot) || !IsHugeZero(*slot))
            return SplitOutcome.NotMine;
        return TrySplitHugeZero(leafVa, slot) ? SplitOutcome.Split : SplitOutcome.OutOfTables;
    }
}
