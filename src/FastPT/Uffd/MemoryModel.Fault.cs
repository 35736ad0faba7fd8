using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Uffd;

public sealed unsafe partial class MemoryModel
{
    private const int FaultAroundPages = 16;

    private enum FaultResult { Retry, UserfaultWp }

    /// <summary>
    /// A user-mode load or store of one byte at va. The CPU walks FastPT's tables; on a #PF the
    /// model runs Linux's fault handler and the CPU retries, until the access completes, needs a
    /// userfaultfd resolve (the message is returned; resolve and call again), or is refused.
    /// </summary>
    /// <param name="flush">
    /// Receives what the fault handler's changes owe a TLB (a zero page replaced by a private
    /// copy, a read-only entry made writable); a fault that only fills empty entries owes nothing.
    /// </param>
    public AccessResult Access(ulong va, bool write, FlushPlan flush)
    {
        ArgumentNullException.ThrowIfNull(flush);
        var log = FastPT.Diagnostics.FastPTEventSource.Log;
        if (!log.AccessEnabled())
            return AccessCore(va, write, flush);
        long before = TablesInUse;
        var r = AccessCore(va, write, flush);
        log.Access(TraceSpace, va, write ? 1 : 0, (int)r.Outcome, TablesInUse - before);
        return r;
    }

    private AccessResult AccessCore(ulong va, bool write, FlushPlan flush)
    {
        for (int attempt = 0; attempt < 8; attempt++)
        {
            if (Space.Walk(va, write ? UserWrite : UserRead, updateAccessedDirty: true, rights: null).Success)
                return new AccessResult(AccessOutcome.Completed);
            var vma = FindVma(va);
            if (vma is null || !(write ? vma.MayWrite : vma.MayRead))
                return new AccessResult(AccessOutcome.SegmentationFault);
            if (HandleFault(vma, va & ~4095UL, write, flush) == FaultResult.UserfaultWp)
                return new AccessResult(AccessOutcome.WriteProtectFault,
                    new UffdMessage(UffdMessage.EventPageFault, UffdMessage.FlagWrite | UffdMessage.FlagWp, va & ~4095UL));
        }
        throw new InvalidOperationException($"the fault at 0x{va:X} did not resolve after 8 retries; the model's tables disagree with its VMAs");
    }

    /// <summary>handle_mm_fault: the pmd level (THP), then the pte level.</summary>
    private FaultResult HandleFault(Vma vma, ulong va, bool write, FlushPlan flush)
    {
        // The faulting page. Nothing else the handler changes can be remembered unwritten:
        // fault-around fills only empty entries (WRITTEN), a huge pmd has no PTEs to remember.
        Touching(va, va + 4096);
        ulong* pmdSlot = Space.EnsurePath(va, 2, PgProt.Table);
        ulong pmd = *pmdSlot;
        if (LinuxPte.IsNone(pmd) && ThpAllowed(vma, va))
        {
            MapHugeAnonymous(vma, va, write, pmdSlot);
            return FaultResult.Retry;
        }
        if (IsHugeLeaf(pmd))
        {
            if (!write || (pmd & Pte.Writable) != 0)
                throw new InvalidOperationException($"0x{va:X}: a read fault on a present huge pmd 0x{pmd:X} the VMA allows");
            if ((pmd & Pte.UffdWp) != 0 && vma.UffdWp)
            {
                if (!Async)
                    return FaultResult.UserfaultWp;
                SplitHuge(va, flush); // async: the write is resolved at pte level
                return FaultResult.Retry;
            }
            if (IsHugeZero(pmd))
            {
                // do_huge_zero_wp_pmd (6.13+): a fresh THP replaces the huge zero page.
                Store(pmdSlot, LinuxPte.MkWrite(LinuxPte.MkDirty(HugeEntry(vma, _frames.Allocate(512)))), va, HugeSize, flush);
                return FaultResult.Retry;
            }
            Store(pmdSlot, LinuxPte.MkWrite(LinuxPte.MkDirty(pmd | Pte.Accessed)), va, HugeSize, flush); // exclusive anon THP: reuse
            return FaultResult.Retry;
        }
        // The pmd links a PTE table already (the usual case): no second walk from the root.
        ulong* slot = (pmd & Pte.Present) != 0
            ? Space.Table(pmd & Pte.PfnMask) + AddressSpace.Index(va, 1)
            : Space.EnsurePath(va, 1, PgProt.Table);
        ulong pte = *slot;
        switch (LinuxPte.Classify(pte))
        {
            case EntryKind.None:
                return MissingPage(vma, va, write, slot, markerWasUffdWp: false);
            case EntryKind.Marker when PteMarker.IsUffdWp(pte):
                if (!vma.UffdWp)
                {
                    *slot = 0; // a stale marker of an unregistered VMA is just dropped
                    return FaultResult.Retry;
                }
                return MissingPage(vma, va, write, slot, markerWasUffdWp: true);
            case EntryKind.Present when write && (pte & Pte.Writable) == 0:
                return WriteProtectedPage(vma, va, slot, pte, flush);
            default:
                throw new InvalidOperationException($"0x{va:X}: no fault handling modelled for entry 0x{pte:X} ({(write ? "write" : "read")})");
        }
    }

    /// <summary>do_pte_missing: anonymous (zero page or a new page) or file (page cache).</summary>
    private FaultResult MissingPage(Vma vma, ulong va, bool write, ulong* slot, bool markerWasUffdWp)
    {
        ulong entry;
        if (vma.Anonymous)
        {
            if (write)
                PrepareAnonVma(vma); // a read maps the zero page without an anon_vma
            entry = write
                ? WritableIfAllowed(vma, Leaf(vma, _frames.Allocate(1)))
                : Leaf(vma, FrameAllocator.ZeroPfn) | Pte.Special;
        }
        else
        {
            if (!write && !vma.UffdWp && FaultAround(vma, va))
                return FaultResult.Retry;
            ulong pfn = vma.File!.GetOrCreate(vma.FilePage(va), _frames);
            entry = Leaf(vma, pfn);
            if (write)
                entry = WritableIfAllowed(vma, entry);
        }
        // set_pte_range: a page installed over a uffd-wp marker keeps the protection.
        if (markerWasUffdWp)
            entry = LinuxPte.MkUffdWp(entry);
        *slot = entry;
        return FaultResult.Retry;
    }

    /// <summary>do_wp_page: uffd-wp first, then reuse (shared / exclusive anon) or copy (zero page).</summary>
    private FaultResult WriteProtectedPage(Vma vma, ulong va, ulong* slot, ulong pte, FlushPlan flush)
    {
        if ((pte & Pte.UffdWp) != 0 && vma.UffdWp)
        {
            if (!Async)
                return FaultResult.UserfaultWp;
            pte = LinuxPte.ClearUffdWp(pte);
            *slot = pte;
        }
        if (!vma.Shared && (pte & Pte.Special) != 0)
        {
            PrepareAnonVma(vma);
            Store(slot, WritableIfAllowed(vma, Leaf(vma, _frames.Allocate(1))), va, 4096, flush); // wp_page_copy of the zero page
        }
        else
            Store(slot, LinuxPte.MkWrite(LinuxPte.MkDirty(pte | Pte.Accessed)), va, 4096, flush);
        return FaultResult.Retry;
    }

    /// <summary>Writes a leaf the fault handler changed; a TLB may hold the old one when pte_needs_flush says so.</summary>
    private static void Store(ulong* slot, ulong value, ulong va, ulong size, FlushPlan flush)
    {
        ulong old = *slot;
        *slot = value;
        if (FlushRules.NeedsFlush(old, value))
            flush.Add(va & ~(size - 1), (va & ~(size - 1)) + size);
    }

    /// <summary>
    /// do_fault_around: maps the page-cache pages of the aligned 16-page window around va
    /// into empty entries, clipped to the VMA and the PTE table. True if va got mapped.
    /// </summary>
    private bool FaultAround(Vma vma, ulong va, int window = FaultAroundPages)
    {
        long pteOff = AddressSpace.Index(va, 1);
        long vmaOff = (long)((va - vma.Start) >> 12);
        long from = Math.Max(pteOff & ~(long)(window - 1), pteOff - Math.Min(pteOff, vmaOff));
        long to = Math.Min(Math.Min(from + window, 512), pteOff + vma.Pages - vmaOff);
        ulong* table = Space.TryGetEntry(va, 1) - pteOff;
        bool mapped = false;
        for (long i = from; i < to; i++)
        {
            ulong addr = (ulong)((long)va + (i - pteOff) * 4096);
            long page = vma.FilePage(addr);
            if (page >= vma.File!.Pages || !LinuxPte.IsNone(table[i]))
                continue;
            // A test of its own: mutation testing turns || into &&, which would leave pfn unassigned.
            if (!vma.File.TryGet(page, out ulong pfn))
                continue;
            table[i] = Leaf(vma, pfn);
            mapped |= addr == va;
        }
        return mapped;
    }

    private static bool ThpAllowed(Vma vma, ulong va)
    {
        ulong start = va & ~(HugeSize - 1);
        return vma.HugePageHint && vma.Anonymous && start >= vma.Start && start + HugeSize <= vma.End;
    }

    /// <summary>do_huge_pmd_anonymous_page: the huge zero page on a read, a fresh THP on a write.</summary>
    private void MapHugeAnonymous(Vma vma, ulong va, bool write, ulong* pmdSlot)
    {
        PrepareAnonVma(vma); // also for the huge zero page
        *pmdSlot = write
            ? WritableIfAllowed(vma, HugeEntry(vma, _frames.Allocate(512)))
            : HugeEntry(vma, FrameAllocator.HugeZeroPfn) | Pte.Special;
    }

    /// <summary>mk_pte with the VMA's page protection (A is part of every user pgprot).</summary>
    private static ulong Leaf(Vma vma, ulong pfn) => L1tf.PfnEntry(pfn, vma.PageProt);

    private static ulong HugeEntry(Vma vma, ulong pfn) => Leaf(vma, pfn) | Pte.PageSize;

    /// <summary>maybe_mkwrite(pte_mkdirty(entry)): writable only where the VMA allows writes.</summary>
    private static ulong WritableIfAllowed(Vma vma, ulong entry)
    {
        entry = LinuxPte.MkDirty(entry);
        return vma.MayWrite ? LinuxPte.MkWrite(entry) : entry;
    }
}
