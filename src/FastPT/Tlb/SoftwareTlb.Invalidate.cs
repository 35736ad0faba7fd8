using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Tlb;

public sealed unsafe partial class SoftwareTlb
{
    private const int MaxContext = 4095;
    private readonly ushort[] _pcidContexts; // guest PCID -> context of its entries (0 = none yet)
    private int _nextContext;
    private int _pcid;
    private bool _pcide;
    private bool _globalPages = true;
    // Pages cached from 2 MiB / 1 GiB leaves lie in [_hugeFirst, _hugeLast]; _hugeSize is the largest such leaf.
    private ulong _hugeFirst = ulong.MaxValue, _hugeLast, _hugeSize;

    /// <summary>CR4.PCIDE: CR3 bits 0..11 are a PCID and tag the entries. Changing it flushes everything (PCID 0 is current).</summary>
    public bool Pcide
    {
        get => _pcide;
        set
        {
            if (value == _pcide)
                return;
            _pcide = value;
            _pcid = 0;
            FlushAll();
        }
    }

    /// <summary>CR4.PGE: leaves with G set survive CR3 writes. Changing it flushes everything (how a kernel flushes global pages).</summary>
    public bool GlobalPages
    {
        get => _globalPages;
        set
        {
            if (value == _globalPages)
                return;
            _globalPages = value;
            FlushAll();
        }
    }

    /// <summary>Drops what a FastPT verb's flush plan says a TLB may still hold.</summary>
    public void Invalidate(FlushPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        foreach (var r in plan.Ranges)
            InvalidateRange(r.Start, r.End);
    }

    /// <summary>INVLPG: drops va's page in every mode and context, global or not, and the whole of a 2 MiB / 1 GiB translation that covers it.</summary>
    public void InvalidatePage(ulong va) => InvalidateRange(va & PageMask, (va & PageMask) + 4096);

    /// <summary>
    /// Drops every page of [start, end) in every mode and context (end exclusive; 0 = the top
    /// of the address space), and, as the CPU's INVLPG does, every page of a huge
    /// translation the range touches.
    /// </summary>
    public void InvalidateRange(ulong start, ulong end)
    {
        ulong first = start & PageMask, last = end - 1;
        if (first > last)
            return;
        DropPageDirectories();
        if (first <= _hugeLast && last >= _hugeFirst)
        {
            first &= ~(_hugeSize - 1);
            last |= _hugeSize - 1;
        }
        int size = _mask + 1;
        ulong pages = ((last - first) >> 12) + 1;
        if (pages == 0 || pages >= (ulong)size)
        {
            // Every slot may hold a page of the range: look at each once.
            for (int i = 0; i < ModeTables * size; i++)
                DropIfIn(_base + i, i & _mask, first, last);
            return;
        }
        int index = (int)(first >> 12) & _mask;
        for (ulong p = 0; p < pages; p++, index = (index + 1) & _mask)
        {
            for (int m = 0; m < ModeTables; m++)
                DropIfIn(_base + m * size + index, index, first, last);
        }
    }

    /// <summary>
    /// MOV to CR3. Without PCIDs every non-global entry goes; with them, the new PCID's
    /// non-global entries go unless bit 63 is set, and other PCIDs keep theirs. Global entries
    /// stay. An attached space walks from the new root from now on; an owned space accepts
    /// only its own root. Throws, changing nothing, when the root is not in guest memory.
    /// </summary>
    public void WriteCr3(ulong cr3)
    {
        if (_space.IsAttached)
            _space.LoadRoot(cr3);
        else if ((cr3 & AddressSpace.Cr3RootMask) != _space.Root)
            throw new ArgumentException($"CR3 0x{cr3:X} names another root than this space's 0x{_space.Root:X}; attach a space (AddressSpace.Attach) to follow the guest's CR3", nameof(cr3));
        DropPageDirectories(); // they are the old root's
        if (!_pcide)
        {
            _context = (ulong)NewContext();
            return;
        }
        int pcid = (int)(cr3 & 0xFFF);
        if ((cr3 >> 63) == 0 || _pcidContexts[pcid] == 0)
            _pcidContexts[pcid] = (ushort)NewContext();
        _pcid = pcid;
        _context = _pcidContexts[pcid];
    }

    /// <summary>INVPCID single-context: drops the non-global entries of one PCID (PCID 0 without CR4.PCIDE).</summary>
    public void InvalidatePcid(int pcid)
    {
        if (pcid is < 0 or > MaxContext)
            throw new ArgumentOutOfRangeException(nameof(pcid), pcid, "a PCID is 0..4095");
        ushort fresh = (ushort)NewContext();
        DropPageDirectories();
        _pcidContexts[pcid] = 0;
        if (!_pcide || pcid == _pcid)
        {
            _context = fresh;
            if (_pcide)
                _pcidContexts[pcid] = fresh;
        }
    }

    /// <summary>Drops everything, global pages included (a CR4.PGE toggle, INVPCID all-context).</summary>
    public void FlushAll()
    {
        int n = ModeTables * (_mask + 1);
        for (int i = 0; i < n; i++)
            Drop(_base + i, i & _mask);
        DropPageDirectories();
        Array.Clear(_pcidContexts);
        _nextContext = 1;
        _context = 1;
        if (_pcide)
            _pcidContexts[_pcid] = 1;
        _hugeFirst = ulong.MaxValue;
        _hugeLast = 0;
        _hugeSize = 0;
    }

    /// <summary>
    /// A context no entry carries yet: the entries of the old one become unreachable at once
    /// and are overwritten as slots refill. When the 4095 contexts run out, everything goes.
    /// </summary>
    private int NewContext()
    {
        if (_nextContext >= MaxContext)
            FlushAll();
        return ++_nextContext;
    }

    private void DropPageDirectories()
    {
        for (int i = 0; i < PdCaches; i++)
            _pdCache[i].Key = ulong.MaxValue;
    }

    private void NoteHuge(ulong start, ulong size)
    {
        _hugeFirst = Math.Min(_hugeFirst, start);
        _hugeLast = Math.Max(_hugeLast, start + (size - 1));
        _hugeSize = Math.Max(_hugeSize, size);
    }

    private static void DropIfIn(TlbEntry* e, int index, ulong first, ulong last)
    {
        ulong span = last - first;
        if ((e->Read & PageMask) - first <= span || (e->Write & PageMask) - first <= span || (e->Execute & PageMask) - first <= span)
            Drop(e, index);
    }

    private static void Drop(TlbEntry* e, int index)
    {
        ulong invalid = Invalid(index);
        e->Read = invalid;
        e->Write = invalid;
        e->Execute = invalid;
        e->Frame = 0;
    }
}
