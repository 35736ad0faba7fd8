using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Uffd;

public sealed unsafe partial class MemoryModel
{
    /// <summary>
    /// The /proc/pid/pagemap entry Linux would report for va, as read with CAP_SYS_ADMIN
    /// (PFNs and swap fields shown). Soft-dirty is never set: CONFIG_MEM_SOFT_DIRTY is off on
    /// the reference kernel.
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
            // pagemap's pmd path takes pmd_page without vm_normal_page: the huge zero page reads as a file page.
            if (vma is { Anonymous: false } || IsHugeZero(e))
                flags |= PagemapBits.File;
            else
                flags |= PagemapBits.MmapExclusive;
            return flags | (HugePfn(e) + sub);
        }
        switch (LinuxPte.Classify(e))
        {
            case EntryKind.None:
                return 0;
            case EntryKind.Present:
            {
                ulong flags = PagemapBits.Present | ((e & Pte.UffdWp) != 0 ? PagemapBits.UffdWp : 0);
                if ((e & Pte.Special) == 0)
                    flags |= vma is { Anonymous: false } ? PagemapBits.File : PagemapBits.MmapExclusive;
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
    /// PAGEMAP_SCAN over [start, end) (Linux 6.18): per-page categories, filtered, merged into
    /// runs of equal reported categories, optionally write-protecting the written pages it
    /// keeps (async-mode VMAs only; others are skipped with WP_MATCHING). With WP_MATCHING a
    /// written huge page the scan covers only in part is split first.
    /// </summary>
    public PagemapScanResult Scan(ulong start, ulong end, in PagemapScanRequest request, Span<PageRegion> output, FlushPlan flush)
    {
        ArgumentNullException.ThrowIfNull(flush);
        if ((start & 4095) != 0 || end <= start)
            throw new ArgumentException($"scan range [0x{start:X}, 0x{end:X}) must start page-aligned and be non-empty");
        end = (end + 4095) & ~4095UL;
        var regions = new List<PageRegion>();
        var protect = new List<(Vma Vma, ulong Va)>();
        long found = 0;
        ulong keptHugeEnd = 0;
        ulong va = start;
        while (va < end)
        {
            var vma = FindVma(va);
            ulong stop = vma is null ? NextVmaStart(va, end) : Math.Min(vma.End, end);
            bool wpAllowed = vma is not null && vma.UffdWp && Async;
            if (vma is null || request.WriteProtectMatching && !wpAllowed)
            {
                va = stop;
                continue;
            }
            for (; va < stop; va += 4096)
            {
                if (request.MaxPages != 0 && found >= request.MaxPages)
                    return Finish(regions, protect, va, output, flush);
                var cats = Categories(vma, va, wpAllowed);
                if (!request.Matches(cats))
                    continue;
                bool newRun = false;
                if (request.WriteProtectMatching && (cats & PageCategories.Huge) != 0 && (cats & PageCategories.Written) != 0
                    && va >= keptHugeEnd)
                {
                    ulong hugeStart = va & ~(HugeSize - 1);
                    long budget = request.MaxPages == 0 ? long.MaxValue : request.MaxPages - found;
                    ulong coveredEnd = Math.Min(Math.Min(stop, hugeStart + HugeSize), va + (ulong)Math.Min(budget, 512) * 4096);
                    if (va != hugeStart || coveredEnd != hugeStart + HugeSize)
                    {
                        // The kernel has already pushed the huge run and takes it back
                        // (pagemap_scan_backout_range). If that run had opened a new entry, the
                        // entry is emptied but kept, so what follows cannot merge with the run before.
                        newRun = regions.Count > 0 && !(regions[^1].End == va && regions[^1].Categories == (cats & request.Return));
                        SplitHuge(va, flush); // report as if there was no THP
                        cats = Categories(vma, va, wpAllowed);
                        if (!request.Matches(cats))
                            continue;
                    }
                    else
                        keptHugeEnd = hugeStart + HugeSize; // decided once for the whole huge page
                }
                found++;
                Push(regions, va, cats & request.Return, newRun);
                if (request.WriteProtectMatching && (cats & PageCategories.Written) != 0)
                    protect.Add((vma, va));
            }
        }
        return Finish(regions, protect, end, output, flush);
    }

    /// <summary>The report shows the state before protection, so WP_MATCHING writes after the walk.</summary>
    private PagemapScanResult Finish(List<PageRegion> regions, List<(Vma Vma, ulong Va)> protect, ulong walkEnd, Span<PageRegion> output, FlushPlan flush)
    {
        if (regions.Count > output.Length)
            throw new ArgumentException($"the output holds {output.Length} regions; the scan found {regions.Count}", nameof(output));
        foreach (var (vma, va) in protect)
            WriteProtectScanned(vma, va, flush);
        regions.CopyTo(output);
        return new PagemapScanResult(regions.Count, walkEnd);
    }

    private ulong NextVmaStart(ulong va, ulong end) =>
        _vmas.Where(v => v.Start > va).Select(v => v.Start).DefaultIfEmpty(end).Min() is var n && n < end ? n : end;

    private static void Push(List<PageRegion> regions, ulong va, PageCategories cats, bool newRun = false)
    {
        if (!newRun && regions.Count > 0 && regions[^1].End == va && regions[^1].Categories == cats)
            regions[^1] = regions[^1] with { End = va + 4096 };
        else
            regions.Add(new PageRegion(va, va + 4096, cats));
    }

    /// <summary>pagemap_page_category / pagemap_thp_category, plus the VMA's own categories.</summary>
    private PageCategories Categories(Vma vma, ulong va, bool wpAllowed)
    {
        var cats = wpAllowed ? PageCategories.WpAllowed : PageCategories.None;
        ulong* slot = Space.FindLeaf(va, out int level);
        ulong e = *slot;
        if (level >= 2 && IsHugeLeaf(e))
        {
            cats |= PageCategories.Present | PageCategories.Huge;
            if ((e & Pte.UffdWp) == 0)
                cats |= PageCategories.Written;
            if (IsHugeZero(e))
                cats |= PageCategories.PfnZero;
            else if (!vma.Anonymous)
                cats |= PageCategories.File;
            return cats;
        }
        if (level >= 2)
            return cats | (vma.UffdWp ? PageCategories.Written : 0); // a hole without a PTE table
        switch (LinuxPte.Classify(e))
        {
            case EntryKind.None:
                return cats | PageCategories.Written;
            case EntryKind.Present:
                cats |= PageCategories.Present;
                if ((e & Pte.UffdWp) == 0)
                    cats |= PageCategories.Written;
                if ((e & Pte.Special) != 0)
                    cats |= L1tf.Pfn(e) == FrameAllocator.ZeroPfn ? PageCategories.PfnZero : 0;
                else if (!vma.Anonymous)
                    cats |= PageCategories.File;
                return cats;
            default:
                cats |= PageCategories.Swapped;
                if (!LinuxPte.IsSwapUffdWpAny(e))
                    cats |= PageCategories.Written;
                if (PteMarker.IsGuard(e))
                    cats |= PageCategories.Guard;
                return cats;
        }
    }

    /// <summary>WP_MATCHING for one kept written page: bit 10 on a present entry, a marker in an empty one.</summary>
    private void WriteProtectScanned(Vma vma, ulong va, FlushPlan flush)
    {
        ulong* pmd = PmdSlot(va);
        if (pmd != null && IsHugeLeaf(*pmd))
        {
            // The whole huge page is kept (partial ones were split): protect it at pmd level.
            ulong old = *pmd;
            *pmd = LinuxPte.MkUffdWp(old);
            if (FlushRules.NeedsFlush(old, *pmd))
                flush.Add(va & ~(HugeSize - 1), (va & ~(HugeSize - 1)) + HugeSize);
            return;
        }
        Completed(ChangeProtection(vma, va, va + 4096, ChangeProtectionFlags.UffdWp, flush), "PAGEMAP_SCAN WP_MATCHING");
    }
}
