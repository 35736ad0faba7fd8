using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>
/// PAGEMAP_SCAN page by page, written from the kernel's description and sharing no code with
/// the shipped scan but the per-entry rule: every page is looked up from the root, a huge
/// leaf or a hole is output as one range where the kernel does so, kept ranges merge into the
/// open region or open the next one, a huge page WP_MATCHING keeps only in part is pushed,
/// taken back (its region slot stays open, emptied) and split, and the page limit and the
/// buffer stop the scan where the kernel would. It changes its own copy of the tables the
/// same way the fast path must.
/// </summary>
internal static unsafe class ScanReference
{
    public sealed record Result(List<PageRegion> Regions, long Found, ulong WalkEnd, bool Stopped);

    private sealed class Output(int capacity, long maxPages)
    {
        // The last element is the open region; an emptied one has End == 0.
        public readonly List<PageRegion> Regions = [];
        public long Found;
        public bool Stopped;
        public ulong WalkEnd;
        private readonly long _max = maxPages > 0 ? maxPages : long.MaxValue;

        public bool Out(PageCategories cats, ulong addr, ref ulong end)
        {
            if (capacity == 0)
                return true;
            long pages = (long)((end - addr) >> 12);
            bool full = false;
            if (Found + pages > _max)
            {
                end = addr + (ulong)(_max - Found) * 4096;
                pages = _max - Found;
                full = true;
            }
            if (!Push(cats, addr, end))
            {
                end = addr;
                pages = 0;
                full = true;
            }
            Found += pages;
            if (full)
            {
                Stopped = true;
                WalkEnd = end;
            }
            return !full;
        }

        private bool Push(PageCategories cats, ulong addr, ulong end)
        {
            if (Regions.Count > 0 && Regions[^1].End == addr && Regions[^1].Categories == cats)
            {
                Regions[^1] = Regions[^1] with { End = end };
                return true;
            }
            if (Regions.Count > 0 && Regions[^1].End != 0)
            {
                if (Regions.Count >= capacity)
                    return false;
                Regions.Add(new PageRegion(addr, end, cats));
            }
            else if (Regions.Count > 0)
                Regions[^1] = new PageRegion(addr, end, cats);
            else
                Regions.Add(new PageRegion(addr, end, cats));
            return true;
        }

        public void Backout(ulong addr, ulong end)
        {
            if (capacity == 0)
                return;
            Regions[^1] = Regions[^1].Start != addr ? Regions[^1] with { End = addr } : default;
            Found -= (long)((end - addr) >> 12);
            Stopped = false;
        }

        public List<PageRegion> Written => [.. Regions.Where(r => r.End != r.Start)];
    }

    public static Result Scan(AddressSpace space, ulong start, ulong end, PagemapScanRequest request, ScanContext context, int capacity)
    {
        var o = new Output(capacity, request.MaxPages);
        var p = new ScanParams
        {
            VmaCategories = context.VmaCategories,
            NormalPageCategories = context.NormalPageCategories,
            EmptyIsWritten = context.EmptyIsWritten,
            TrackSoftDirty = context.TrackSoftDirty,
            ZeroPfn = context.ZeroPfn ?? ScanParams.NoPfn,
        };
        var holeCats = context.VmaCategories | (context.HoleIsWritten ? PageCategories.Written : 0);
        ulong va = start;
        while (va < end)
        {
            ulong* slot = Lookup(space, va, out int level, out bool hole);
            if (hole)
            {
                // The whole empty upper entry at this level, clipped to the range: one output.
                ulong size = 1UL << AddressSpace.Shift(level);
                ulong next = Math.Min((va & ~(size - 1)) + size, end);
                if (Interesting(request, holeCats))
                {
                    ulong e = next;
                    bool go = o.Out(holeCats & request.Return, va, ref e);
                    if (e != va && request.WriteProtectMatching && (holeCats & PageCategories.Written) != 0)
                        for (ulong m = va; m < e; m += 4096)
                            *EnsurePte(space, m) = PteMarker.UffdWp;
                    if (!go)
                        return Done(o, o.WalkEnd);
                }
                va = next;
                continue;
            }
            if (level > 1)
            {
                ulong size = 1UL << AddressSpace.Shift(level);
                ulong leaf = va & ~(size - 1);
                ulong to = Math.Min(leaf + size, end);
                var cats = HugeCategories(*slot, p, context.HugeZeroPfn);
                if (!Interesting(request, cats))
                {
                    va = to;
                    continue;
                }
                ulong e = to;
                bool go = o.Out(cats & request.Return, va, ref e);
                if (e != va && request.WriteProtectMatching && (cats & PageCategories.Written) != 0)
                {
                    if (e - va != size)
                    {
                        o.Backout(va, e);
                        space.Split(va, level);
                        continue; // the same pages again, now one level down
                    }
                    *slot = LinuxPte.IsPmdPresent(*slot) ? LinuxPte.MkUffdWp(*slot) : *slot | SwapEntry.UffdWp;
                }
                if (!go)
                    return Done(o, o.WalkEnd);
                va = to;
                continue;
            }
            var c = ScanRule.Categorize(*slot, p);
            if (Interesting(request, c))
            {
                ulong e = va + 4096;
                bool go = o.Out(c & request.Return, va, ref e);
                if (e != va && request.WriteProtectMatching && (c & PageCategories.Written) != 0)
                    *slot = ScanRule.MakeUffdWp(*slot);
                if (!go)
                    return Done(o, o.WalkEnd);
            }
            va += 4096;
        }
        return Done(o, end);
    }

    /// <summary>pagemap_scan_is_interesting_page, written here apart from the engine's rule.</summary>
    private static bool Interesting(in PagemapScanRequest r, PageCategories categories)
    {
        var c = categories ^ r.Inverted;
        return (c & r.Mask) == r.Mask && (r.AnyOf == PageCategories.None || (c & r.AnyOf) != 0);
    }

    private static Result Done(Output o, ulong walkEnd) => new(o.Written, o.Found, walkEnd, o.Stopped);

    /// <summary>The leaf slot for va, or the empty upper slot (hole) and its level.</summary>
    private static ulong* Lookup(AddressSpace space, ulong va, out int level, out bool hole)
    {
        ulong* table = space.RootTable;
        for (level = space.Levels; ; level--)
        {
            ulong* slot = table + AddressSpace.Index(va, level);
            ulong e = *slot;
            hole = level > 1 && LinuxPte.IsNone(e);
            if (level == 1 || hole || (e & Pte.Present) == 0 || (level <= 3 && (e & Pte.PageSize) != 0))
                return slot;
            table = space.Table(e & Pte.PfnMask);
        }
    }

    private static ulong* EnsurePte(AddressSpace space, ulong va)
    {
        ulong* table = space.RootTable;
        for (int level = space.Levels; level > 1; level--)
        {
            ulong* slot = table + AddressSpace.Index(va, level);
            if (LinuxPte.IsNone(*slot))
            {
                Assert.True(space.Tables.TryAllocate(out ulong fresh));
                *slot = fresh | PgProt.Table;
            }
            table = space.Table(*slot & Pte.PfnMask);
        }
        return table + AddressSpace.Index(va, 1);
    }

    private static PageCategories HugeCategories(ulong e, in ScanParams p, ulong? hugeZeroPfn)
    {
        var c = p.VmaCategories | PageCategories.Huge;
        if (!LinuxPte.IsPmdPresent(e))
        {
            c |= PageCategories.Swapped;
            if ((e & SwapEntry.UffdWp) == 0)
                c |= PageCategories.Written;
            if (p.TrackSoftDirty && (e & SwapEntry.SoftDirty) != 0)
                c |= PageCategories.SoftDirty;
            return c;
        }
        c |= PageCategories.Present;
        if (!LinuxPte.IsUffdWp(e))
            c |= PageCategories.Written;
        if (p.TrackSoftDirty && (e & Pte.SoftDirty) != 0)
            c |= PageCategories.SoftDirty;
        ulong frame = (L1tf.NeedsInvert(e) ? e ^ Pte.Pfn2MMask : e) & Pte.Pfn2MMask;
        if (frame >> 12 == hugeZeroPfn)
            c |= PageCategories.PfnZero;
        else if ((e & Pte.Special) == 0)
            c |= p.NormalPageCategories;
        return c;
    }
}
