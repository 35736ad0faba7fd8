using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Paging;

namespace FastPT.Kvm.Oracle;

/// <summary>
/// Random page tables for a guest to write into its own RAM: a root whose slot 0 is the
/// system's mapping (copied, as a kernel shares its half), and in the other PML4 slots runs of
/// 4 KiB and 2 MiB leaves with random rights, in tables spread over both RAM regions (below
/// and above the hole), with what guests do and hostile guests do: tables linked from two
/// places, a slot that points back to the root (a recursive mapping), PS in a PDPTE (no
/// 1 GiB pages on this CPU), reserved bits, garbage in non-present entries. Links never point
/// where there is no RAM: the SDM leaves that undefined (docs/kvm.md).
/// <para>
/// The image is a list of (guest-physical address, value) stores; <see cref="TableWriterProgram"/>
/// turns them into guest code. Nothing here writes guest memory.
/// </para>
/// </summary>
public sealed class GuestBuiltSpace
{
    private const ulong LinkBits = Pte.Present | Pte.Writable | Pte.User;
    private readonly Random _rng;
    private readonly GuestCpuFeatures _features;
    private readonly List<ulong> _free = [];
    private readonly Dictionary<ulong, ulong> _entries = [];   // guest-physical of an entry -> its value
    private readonly List<ulong> _order = [];                  // entries in the order the guest first writes them
    private readonly List<ulong> _pts = [], _pds = [];

    private GuestBuiltSpace(Random rng, GuestCpuFeatures features)
    {
        _rng = rng;
        _features = features;
        for (ulong pa = GuestLayout.GuestTables; pa < GuestLayout.GuestTablesEnd; pa += 4096)
            _free.Add(pa);
        for (ulong pa = GuestLayout.HighRam; pa < GuestLayout.HighTablesEnd; pa += 4096)
            _free.Add(pa);
    }

    public ulong Root { get; private set; }

    /// <summary>What the guest loads into CR3: the root with random PWT/PCD.</summary>
    public ulong Cr3 { get; private set; }

    public List<MappedLeaf> Leaves { get; } = [];

    public List<ulong> Holes { get; } = [];

    /// <summary>The PML4 slot that points back to the root, or -1.</summary>
    public int RecursiveSlot { get; private set; } = -1;

    public int Tables { get; private set; }

    public int HighTables { get; private set; }

    public int SharedLinks { get; private set; }

    public int ReservedBitEntries { get; private set; }

    public static GuestBuiltSpace Build(Random rng, GuestCpuFeatures features, ulong systemPml4e)
    {
        var s = new GuestBuiltSpace(rng, features);
        s.Root = s.NewTable();
        s.Cr3 = s.Root | (rng.Next(2) == 0 ? 0 : 0x8UL) | (rng.Next(4) == 0 ? 0x10UL : 0);
        s.Set(s.Root, 0, systemPml4e);
        int regions = rng.Next(6, 20);
        for (int r = 0; r < regions; r++)
            s.AddRegion();
        if (rng.Next(2) == 0)
        {
            s.RecursiveSlot = s.Pml4Slot();
            if (s.Get(s.Root, s.RecursiveSlot) == 0)
                s.Set(s.Root, s.RecursiveSlot, s.Root | LinkBits | s.Bits(Pte.Accessed, 50));
            else
                s.RecursiveSlot = -1;
        }
        s.AddGarbage();
        s.AddReservedBits();
        return s;
    }

    /// <summary>Every store of the image in the order the guest makes them.</summary>
    public IEnumerable<(ulong Address, ulong Value)> Stores => _order.Select(a => (a, _entries[a]));

    /// <summary>
    /// New A and bit 6 (D in a leaf) for every present entry but the system's, as the guest
    /// rewrites them before a batch; returns the stores whose value differs from what guest
    /// RAM holds now (the vCPU set A/D since).
    /// </summary>
    public List<(ulong Address, ulong Value)> ShuffleAccessedDirty(Func<ulong, ulong> readNow)
    {
        var stores = new List<(ulong, ulong)>();
        foreach (ulong at in _order)
        {
            ulong e = _entries[at];
            if ((e & Pte.Present) == 0 || at == Root)
                continue; // garbage stays garbage; slot 0 is the system's, A/D set in advance
            e = (e & ~(Pte.Accessed | Pte.Dirty)) | Bits(Pte.Accessed, 40) | Bits(Pte.Dirty, 30);
            _entries[at] = e;
            if (readNow(at) != e)
                stores.Add((at, e));
        }
        return stores;
    }

    private ulong NewTable()
    {
        int i = _rng.Next(_free.Count);
        ulong pa = _free[i];
        _free[i] = _free[^1];
        _free.RemoveAt(_free.Count - 1);
        Tables++;
        if (pa >= GuestLayout.HighRam)
            HighTables++;
        return pa;
    }

    private ulong Get(ulong table, int index) => _entries.GetValueOrDefault(table + (ulong)index * 8);

    private void Set(ulong table, int index, ulong value)
    {
        ulong at = table + (ulong)index * 8;
        if (!_entries.ContainsKey(at))
            _order.Add(at);
        _entries[at] = value;
    }

    private ulong Bits(ulong mask, int percent) => _rng.Next(100) < percent ? mask : 0;

    private ulong LinkFlags() => Pte.Present | Bits(Pte.Writable, 85) | Bits(Pte.User, 90) | Bits(Pte.NoExecute, 10) | Bits(Pte.Accessed, 30);

    private ulong LeafFlags() =>
        Pte.Present | Bits(Pte.Writable, 65) | Bits(Pte.User, 70) | Bits(Pte.NoExecute, 25)
        | Bits(Pte.Accessed, 30) | Bits(Pte.Dirty, 20) | Bits(Pte.Global, 10) | Bits((ulong)_rng.Next(16) << Pte.PkeyShift, 30);

    /// <summary>Slot 0 is the system's; the backend's own slot is left out (see <see cref="BackendQuirks"/>).</summary>
    private int Pml4Slot()
    {
        while (true)
        {
            int slot = _rng.Next(1, 512);
            if (slot != BackendQuirks.ReservedPml4SlotAtCpl3)
                return slot;
        }
    }

    private static ulong Canonical(ulong va) => (ulong)((long)(va << 16) >> 16);

    /// <summary>A 4 KiB data frame in either region's scratch RAM (all RET).</summary>
    private ulong Scratch4K() => _rng.Next(4) == 0
        ? GuestLayout.HighTablesEnd + (ulong)_rng.Next((int)((GuestLayout.HighRam + GuestLayout.HighRamSize - GuestLayout.HighTablesEnd) / 4096)) * 4096
        : GuestLayout.Scratch + (ulong)_rng.Next((int)((GuestLayout.MemorySize - GuestLayout.Scratch) / 4096)) * 4096;

    private ulong Scratch2M() => _rng.Next(4) == 0
        ? GuestLayout.HighTablesEnd
        : GuestLayout.Scratch + (ulong)_rng.Next((int)((GuestLayout.MemorySize - GuestLayout.Scratch) >> 21)) * 0x200000;

    /// <summary>
    /// The table an entry links to, made (or, now and then, an existing one of the same level
    /// linked a second time) if the entry is empty; 0 if it holds a leaf or garbage.
    /// </summary>
    private ulong Child(ulong table, int index, List<ulong>? sameLevel)
    {
        ulong e = Get(table, index);
        if (e == 0)
        {
            ulong child;
            if (sameLevel is { Count: > 0 } && _rng.Next(100) < 8)
            {
                child = sameLevel[_rng.Next(sameLevel.Count)];
                SharedLinks++;
            }
            else
            {
                child = NewTable();
                sameLevel?.Add(child);
            }
            Set(table, index, child | LinkFlags());
            return child;
        }
        return (e & Pte.Present) != 0 && (e & Pte.PageSize) == 0 ? e & Pte.PfnMask : 0;
    }

    private void AddRegion()
    {
        int slot = Pml4Slot();
        int pdptIndex = _rng.Next(512);
        ulong top = Canonical(((ulong)slot << 39) | ((ulong)pdptIndex << 30));
        ulong pdpt = Child(Root, slot, null);
        if (pdpt == 0)
            return;
        int kind = _rng.Next(_features.Pages1G ? 4 : 7);
        if (kind == 6)
        {
            // PS in a PDPTE on a CPU without 1 GiB pages: reserved (when the entry is empty).
            if (Get(pdpt, pdptIndex) == 0)
            {
                Set(pdpt, pdptIndex, LeafFlags() | Pte.PageSize);
                Leaves.Add(new MappedLeaf(top, PageSize.Size1G));
                ReservedBitEntries++;
            }
            return;
        }
        if (kind == 3)
        {
            if (Get(pdpt, pdptIndex) == 0)
            {
                Set(pdpt, pdptIndex, LeafFlags() | Pte.PageSize); // frame 0: the only 1 GiB frame with RAM
                Leaves.Add(new MappedLeaf(top, PageSize.Size1G));
            }
            return;
        }
        ulong pd = Child(pdpt, pdptIndex, _pds);
        if (pd == 0)
            return;
        if (kind is 0 or 1 or 4 or 5)
        {
            int pdIndex = _rng.Next(512);
            ulong pt = Child(pd, pdIndex, _pts);
            if (pt == 0)
                return;
            int first = _rng.Next(480), count = _rng.Next(1, 32);
            for (int i = first; i < first + count; i++)
            {
                ulong va = top | ((ulong)pdIndex << 21) | ((ulong)i << 12);
                if (_rng.Next(5) == 0)
                    Holes.Add(va);
                else if (Get(pt, i) == 0)
                {
                    Set(pt, i, Scratch4K() | LeafFlags());
                    Leaves.Add(new MappedLeaf(va, PageSize.Size4K));
                }
            }
            return;
        }
        int firstPd = _rng.Next(500), countPd = _rng.Next(1, 8);
        for (int i = firstPd; i < firstPd + countPd; i++)
        {
            ulong va = top | ((ulong)i << 21);
            if (Get(pd, i) != 0)
                continue;
            if (_rng.Next(6) == 0)
            {
                Holes.Add(va + (ulong)_rng.Next(0x200000));
                continue;
            }
            Set(pd, i, Scratch2M() | LeafFlags() | Pte.PageSize);
            Leaves.Add(new MappedLeaf(va, PageSize.Size2M));
        }
    }

    /// <summary>The slot of the entry that ends va's walk in the image, or 0.</summary>
    private ulong SlotOf(ulong va, int atLevel)
    {
        ulong table = Root;
        for (int level = 4; ; level--)
        {
            ulong at = table + (ulong)AddressSpace.Index(va, level) * 8;
            if (level == atLevel)
                return at;
            ulong e = _entries.GetValueOrDefault(at);
            if ((e & Pte.Present) == 0 || AddressSpace.IsLeaf(e, level))
                return 0;
            table = e & Pte.PfnMask;
        }
    }

    /// <summary>Non-present entries with other bits set: the CPU must ignore everything but P.</summary>
    private void AddGarbage()
    {
        foreach (ulong va in Holes)
        {
            ulong at = SlotOf(va, 1);
            if (at == 0 || _entries.GetValueOrDefault(at) != 0 || _rng.Next(3) != 0)
                continue;
            ulong table = at & ~0xFFFUL;
            Set(table, (int)((at & 0xFFF) / 8), _rng.Next(3) switch
            {
                0 => PteMarker.UffdWp,
                1 => ((ulong)_rng.NextInt64() << 1) & ~1UL,
                _ => Scratch4K() | Pte.Writable | Pte.User | Pte.Accessed | Pte.Dirty | Pte.UffdWp,
            });
        }
    }

    /// <summary>One reserved bit in a few present entries on leaf paths (an address bit at or above MAXPHYADDR: never followed).</summary>
    private void AddReservedBits()
    {
        int maxPhys = _features.MaxPhysicalAddressBits;
        foreach (var leaf in Leaves.ToArray())
        {
            if (_rng.Next(100) >= 4)
                continue;
            int leafLevel = leaf.Size.LeafLevel();
            int level = _rng.Next(4) != 0 ? leafLevel : _rng.Next(leafLevel + 1, 5);
            ulong at = SlotOf(leaf.Va, level);
            ulong e = _entries.GetValueOrDefault(at);
            if (at == 0 || (e & Pte.Present) == 0)
                continue;
            bool isLeaf = level == leafLevel;
            var candidates = new List<ulong>();
            for (int b = maxPhys; b < 52; b++)
                candidates.Add(1UL << b);
            if (level == 4)
                candidates.Add(Pte.PageSize);
            if (!isLeaf && level >= 3 && _features.IsAmd)
                candidates.Add(Pte.Global); // reserved in a PML4E, ignored in a PDPTE (AMD)
            if (isLeaf && level == 2)
                candidates.Add(1UL << _rng.Next(13, 21));
            if (candidates.Count == 0)
                continue;
            Set(at & ~0xFFFUL, (int)((at & 0xFFF) / 8), e | candidates[_rng.Next(candidates.Count)]);
            ReservedBitEntries++;
        }
    }

    /// <summary>
    /// A random probe: mostly into leaves (landing in scratch RAM), some into holes, some
    /// anywhere in a slot, and reads through the recursive slot (whose "pages" are the tables
    /// themselves: only read, so no probe rewrites a table or runs one as code).
    /// </summary>
    public Probe NextProbe()
    {
        var access = (AccessType)_rng.Next(3);
        int pick = _rng.Next(100);
        if (RecursiveSlot >= 0 && pick < 12)
            return new Probe(RecursiveAddress(), AccessType.Read);
        if (Holes.Count > 0 && pick < 30)
            return new Probe(Holes[_rng.Next(Holes.Count)] & ~0xFFFUL | (uint)_rng.Next(4096), access);
        if (Leaves.Count == 0 || pick < 33)
        {
            int slot;
            do
                slot = Pml4Slot();
            while (slot == RecursiveSlot);
            return new Probe(Canonical(((ulong)slot << 39) | ((ulong)_rng.NextInt64() & ((1UL << 39) - 1))), access);
        }
        var leaf = Leaves[_rng.Next(Leaves.Count)];
        ulong offset = leaf.Size switch
        {
            PageSize.Size4K => (ulong)_rng.Next(4096),
            PageSize.Size2M => (ulong)_rng.Next(0x200000),
            _ => GuestLayout.Scratch + (ulong)_rng.NextInt64((long)(GuestLayout.MemorySize - GuestLayout.Scratch)),
        };
        return new Probe(leaf.Va + offset, access);
    }

    /// <summary>An address in the recursive slot whose indices follow present entries of the image.</summary>
    private ulong RecursiveAddress()
    {
        ulong va = (ulong)RecursiveSlot << 39;
        ulong table = Root;
        for (int level = 3; level >= 1; level--)
        {
            var present = new List<int>();
            for (int i = 0; i < 512; i++)
                if ((_entries.GetValueOrDefault(table + (ulong)i * 8) & Pte.Present) != 0)
                    present.Add(i);
            int index = present.Count > 0 && _rng.Next(8) != 0 ? present[_rng.Next(present.Count)] : _rng.Next(512);
            va |= (ulong)index << AddressSpace.Shift(level);
            ulong e = _entries.GetValueOrDefault(table + (ulong)index * 8);
            if ((e & Pte.Present) == 0 || (e & Pte.PfnMask) < GuestLayout.GuestTables)
                break; // the system's tables or nothing: the rest of the address is random
            table = e & Pte.PfnMask;
        }
        return Canonical(va | (uint)_rng.Next(4096));
    }
}
