using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Paging;

namespace FastPT.Kvm.Oracle;

/// <summary>A leaf the generator mapped.</summary>
public readonly record struct MappedLeaf(ulong Va, PageSize Size);

/// <summary>
/// Random experiments in PML4 slots 1..511 of a <see cref="GuestMachine"/>'s address space:
/// runs of 4 KiB pages with gaps, 2 MiB and 1 GiB leaves (all pointing into scratch RAM),
/// random RW/US/NX/PKEY/G/A/D on leaves, random RW/US/NX on the tables above them, some
/// reserved bits, some non-present entries holding garbage (markers, swap-like values).
/// </summary>
public sealed unsafe class RandomAddressSpace
{
    private readonly GuestMachine _machine;
    private readonly Random _rng;
    private readonly bool _pages1G;
    private readonly int _maxPhys;

    private RandomAddressSpace(GuestMachine machine, Random rng)
    {
        _machine = machine;
        _rng = rng;
        _pages1G = machine.Features.Pages1G;
        _maxPhys = machine.Features.MaxPhysicalAddressBits;
    }

    public List<MappedLeaf> Leaves { get; } = [];

    /// <summary>Addresses inside tables that exist but whose slot is empty or non-present.</summary>
    public List<ulong> Holes { get; } = [];

    public int ReservedBitEntries { get; private set; }

    public static RandomAddressSpace Build(GuestMachine machine, Random rng)
    {
        var s = new RandomAddressSpace(machine, rng);
        int regions = rng.Next(6, 20);
        for (int r = 0; r < regions; r++)
            s.AddRegion();
        s.AddGarbage();
        s.AddReservedBits();
        return s;
    }

    /// <summary>Slot 0 is the system's; the backend's own slot is left out (see <see cref="BackendQuirks"/>).</summary>
    private ulong Pml4Slot()
    {
        while (true)
        {
            int slot = _rng.Next(1, 512);
            if (slot != BackendQuirks.ReservedPml4SlotAtCpl3)
                return (ulong)slot;
        }
    }

    private static ulong Canonical(ulong va) => (ulong)((long)(va << 16) >> 16);

    private ulong Bits(ulong mask, int percent) => _rng.Next(100) < percent ? mask : 0;

    private ulong TableFlags() => Pte.Present | Bits(Pte.Writable, 85) | Bits(Pte.User, 90) | Bits(Pte.NoExecute, 10) | Bits(Pte.Accessed, 30);

    private ulong LeafFlags() =>
        Pte.Present | Bits(Pte.Writable, 65) | Bits(Pte.User, 70) | Bits(Pte.NoExecute, 25)
        | Bits(Pte.Accessed, 30) | Bits(Pte.Dirty, 20) | Bits(Pte.Global, 10)
        | Bits((ulong)_rng.Next(16) << Pte.PkeyShift, 30);

    private ulong Scratch4K() => GuestLayout.Scratch + (ulong)_rng.Next((int)((GuestLayout.MemorySize - GuestLayout.Scratch) / 4096)) * 4096;

    private ulong Scratch2M() => GuestLayout.Scratch + (ulong)_rng.Next((int)((GuestLayout.MemorySize - GuestLayout.Scratch) >> 21)) * 0x200000;

    private void AddRegion()
    {
        var space = _machine.Space;
        ulong top = Canonical(Pml4Slot() << 39) | ((ulong)_rng.Next(512) << 30);
        int kind = _rng.Next(_pages1G ? 4 : 3);
        try
        {
            switch (kind)
            {
                case 0:
                case 1:
                {
                    ulong pt = top | ((ulong)_rng.Next(512) << 21);
                    int first = _rng.Next(480);
                    int count = _rng.Next(1, 32);
                    for (int i = first; i < first + count; i++)
                    {
                        ulong va = pt | ((ulong)i << 12);
                        if (_rng.Next(5) == 0)
                            Holes.Add(va);
                        else if (space.TryGetEntry(va, 2) is var pde && (pde == null || (*pde & Pte.PageSize) == 0))
                        {
                            space.Map(va, Scratch4K(), PageSize.Size4K, LeafFlags(), TableFlags());
                            Leaves.Add(new MappedLeaf(va, PageSize.Size4K));
                        }
                    }
                    break;
                }
                case 2:
                {
                    int first = _rng.Next(500);
                    int count = _rng.Next(1, 8);
                    for (int i = first; i < first + count; i++)
                    {
                        ulong va = top | ((ulong)i << 21);
                        ulong* slot = space.TryGetEntry(va, 2);
                        if (slot != null && (*slot & Pte.Present) != 0 && (*slot & Pte.PageSize) == 0)
                            continue; // a table of 4 KiB pages lives here
                        if (_rng.Next(6) == 0)
                        {
                            Holes.Add(va + (ulong)_rng.Next(0x200000));
                            continue;
                        }
                        space.Map(va, Scratch2M(), PageSize.Size2M, LeafFlags(), TableFlags());
                        Leaves.Add(new MappedLeaf(va, PageSize.Size2M));
                    }
                    break;
                }
                default:
                {
                    ulong* slot = space.TryGetEntry(top, 3);
                    if (slot != null && (*slot & Pte.Present) != 0 && (*slot & Pte.PageSize) == 0)
                        break;
                    // The only 1 GiB frame in guest RAM is at 0; probes land in its scratch part.
                    space.Map(top, 0, PageSize.Size1G, LeafFlags(), TableFlags());
                    Leaves.Add(new MappedLeaf(top, PageSize.Size1G));
                    break;
                }
            }
        }
        catch (InvalidOperationException)
        {
            // The path ends in a huge page placed by an earlier region: leave it as it is.
        }
    }

    /// <summary>Non-present entries with other bits set: the CPU must ignore everything but P.</summary>
    private void AddGarbage()
    {
        foreach (ulong va in Holes)
        {
            ulong* slot = _machine.Space.TryGetEntry(va, 1);
            if (slot == null || *slot != 0 || _rng.Next(3) != 0)
                continue;
            *slot = _rng.Next(3) switch
            {
                0 => PteMarker.UffdWp,
                1 => ((ulong)_rng.NextInt64() << 1) & ~1UL,
                _ => Scratch4K() | Pte.Writable | Pte.User | Pte.Accessed | Pte.Dirty | Pte.UffdWp,
            };
        }
    }

    /// <summary>Sets one reserved bit in a few present entries on leaf paths.</summary>
    private void AddReservedBits()
    {
        var space = _machine.Space;
        // Pick every slot first: once a high address bit is set in a table entry, walks by
        // software that do not check reserved bits would follow it out of guest RAM.
        var pokes = new List<(nint Slot, ulong Bit)>();
        foreach (var leaf in Leaves)
        {
            if (_rng.Next(100) >= 4)
                continue;
            int leafLevel = leaf.Size.LeafLevel();
            // Mostly the leaf: a bad upper entry takes a whole region with it.
            int level = _rng.Next(4) != 0 ? leafLevel : _rng.Next(leafLevel + 1, space.Levels + 1);
            ulong* slot = space.TryGetEntry(leaf.Va, level);
            if (slot == null || (*slot & Pte.Present) == 0)
                continue;
            bool isLeaf = level == leafLevel;
            var candidates = new List<ulong>();
            for (int b = _maxPhys; b < 52; b++)
                candidates.Add(1UL << b);
            if (level == 4)
                candidates.Add(Pte.PageSize);
            if (!isLeaf && level >= 3)
                candidates.Add(Pte.Global); // AMD reserves bit 8 in non-leaf PML4Es and PDPTEs
            if (isLeaf && level == 2)
                candidates.Add(1UL << _rng.Next(13, 21));
            if (isLeaf && level == 3)
                candidates.Add(1UL << _rng.Next(13, 30));
            if (candidates.Count > 0) // none for a 4 KiB leaf when MAXPHYADDR is 52
                pokes.Add(((nint)slot, candidates[_rng.Next(candidates.Count)]));
        }
        foreach (var (slot, bit) in pokes)
            *(ulong*)slot |= bit;
        ReservedBitEntries = pokes.Count;
    }

    /// <summary>A random probe: mostly into mapped leaves (landing in scratch RAM), some into holes.</summary>
    public Probe NextProbe()
    {
        var access = (AccessType)_rng.Next(3);
        if (Holes.Count > 0 && _rng.Next(100) < 20)
            return new Probe(Holes[_rng.Next(Holes.Count)] & ~0xFFFUL | (uint)_rng.Next(4096), access);
        if (Leaves.Count == 0 || _rng.Next(100) < 3)
            return new Probe(Canonical((Pml4Slot() << 39) | ((ulong)_rng.NextInt64() & ((1UL << 39) - 1))), access);
        var leaf = Leaves[_rng.Next(Leaves.Count)];
        ulong offset = leaf.Size switch
        {
            PageSize.Size4K => (ulong)_rng.Next(4096),
            PageSize.Size2M => (ulong)_rng.Next(0x200000),
            _ => GuestLayout.Scratch + (ulong)_rng.NextInt64((long)(GuestLayout.MemorySize - GuestLayout.Scratch)),
        };
        return new Probe(leaf.Va + offset, access);
    }

    /// <summary>
    /// Randomises A and bit 6 (D in leaves, ignored above) in every present entry outside the
    /// system slot, so each batch starts from fresh A/D states.
    /// </summary>
    public void ShuffleAccessedDirty()
    {
        ulong* root = _machine.Space.RootTable;
        for (int i = 1; i < 512; i++)
            Shuffle(root + i, 4);
    }

    private void Shuffle(ulong* slot, int level)
    {
        ulong e = *slot;
        if ((e & Pte.Present) == 0)
            return;
        *slot = (e & ~(Pte.Accessed | Pte.Dirty)) | Bits(Pte.Accessed, 40) | Bits(Pte.Dirty, 30);
        if (AddressSpace.IsLeaf(e, level) || level == 1)
            return;
        ulong pa = e & Pte.PfnMask;
        if (pa < GuestLayout.Tables || pa >= GuestLayout.TablesEnd)
            return; // a reserved high bit moved the pointer: the walk never follows it
        ulong* table = _machine.Space.Table(pa);
        for (int i = 0; i < 512; i++)
            Shuffle(table + i, level - 1);
    }
}
