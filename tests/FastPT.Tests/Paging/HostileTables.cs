using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Tests.Memory;

namespace FastPT.Tests.Paging;

/// <summary>
/// Test helper: guest RAM in three guard-paged regions (one ending at 2^52) whose every page
/// holds garbage a hostile guest could write: links into any region, into holes, beyond
/// MAXPHYADDR, to the table itself or to the root (loops through the hierarchy), with random
/// flags, PS where it is reserved, reserved bits, and plain random words.
/// </summary>
internal sealed unsafe class HostileTables : IDisposable
{
    public static readonly (ulong GuestPhysical, int Pages)[] Layout =
    [
        (0x10_0000, 12),
        (0x80_0000, 12),
        (GuestMemoryMap.MaxGuestPhysical - 6 * 4096, 6),
    ];

    private readonly Random _rng;
    private readonly List<ulong> _pages = [];

    public HostileTables(int seed, int levels)
    {
        _rng = new Random(seed);
        Memory = new GuardedGuestMemory(Layout);
        foreach (var r in Memory.Map.Regions)
            for (ulong pa = r.GuestPhysical; pa < r.End; pa += 4096)
                _pages.Add(pa);
        RootPhysical = _pages[_rng.Next(_pages.Count)];
        for (int region = 0; region < Layout.Length; region++)
        {
            var words = Memory.Region(region);
            for (int i = 0; i < words.Length; i++)
                words[i] = Entry(Layout[region].GuestPhysical + (ulong)(i / 512) * 4096);
        }
        // The last pages of the second region are the pool for tables FastPT makes (splits, markers).
        Source = new GuestMemoryTableSource(Memory.Map, Layout[1].GuestPhysical + 8 * 4096, 4 * 4096);
        ulong cr3 = RootPhysical | (uint)_rng.Next(4096) | (_rng.Next(2) == 0 ? 1UL << 63 : 0);
        Space = AddressSpace.Attach(Source, cr3, levels);
        Levels = levels;
    }

    public GuardedGuestMemory Memory { get; }
    public GuestMemoryTableSource Source { get; }
    public AddressSpace Space { get; }
    public ulong RootPhysical { get; }
    public int Levels { get; }
    public Random Rng => _rng;

    private ulong Entry(ulong table)
    {
        int kind = _rng.Next(100);
        if (kind < 25)
            return 0;
        if (kind < 35)
            return (ulong)_rng.NextInt64() ^ ((ulong)_rng.Next() << 63);
        ulong target = _rng.Next(100) switch
        {
            < 50 => _pages[_rng.Next(_pages.Count)],       // a table in some region
            < 60 => table,                                  // itself
            < 70 => RootPhysical,                           // back to the root: a loop
            < 85 => (ulong)_rng.NextInt64(1L << 40) << 12,  // most likely a hole
            _ => (ulong)_rng.NextInt64(1L << 52) & Pte.PfnMask,
        };
        ulong e = target | Bit(Pte.Present, 88) | Bit(Pte.Writable, 70) | Bit(Pte.User, 70) | Bit(Pte.Accessed, 50)
            | Bit(Pte.Dirty, 40) | Bit(Pte.PageSize, 15) | Bit(Pte.Global, 15) | Bit(Pte.NoExecute, 20)
            | ((ulong)_rng.Next(16) << Pte.PkeyShift) | ((ulong)_rng.Next(8) << 9);
        if (_rng.Next(100) < 5)
            e |= 1UL << _rng.Next(36, 52);                  // an address bit a small MAXPHYADDR reserves
        if (_rng.Next(100) < 5)
            e |= 1UL << _rng.Next(13, 30);                  // reserved in a large leaf
        return e;
    }

    private ulong Bit(ulong bit, int percent) => _rng.Next(100) < percent ? bit : 0;

    /// <summary>
    /// A canonical address: mostly one whose indices follow present entries down from the root
    /// (so walks get deep and some succeed), else random.
    /// </summary>
    public ulong Address()
    {
        int bits = 12 + 9 * Levels;
        ulong va = (ulong)_rng.NextInt64() & ((1UL << bits) - 1);
        if (_rng.Next(100) < 75)
        {
            ulong table = RootPhysical;
            for (int level = Levels; level >= 1; level--)
            {
                ulong* t = Memory.Map.TryPage(table);
                if (t == null)
                    break;
                int index = _rng.Next(512);
                for (int tries = 0; tries < 8 && (t[index] & Pte.Present) == 0; tries++)
                    index = _rng.Next(512);
                int shift = 12 + 9 * (level - 1);
                va = (va & ~(511UL << shift)) | ((ulong)index << shift);
                table = t[index] & Pte.PfnMask;
            }
        }
        return (ulong)((long)(va << (64 - bits)) >> (64 - bits));
    }

    public CpuMode Mode() => new(
        User: _rng.Next(2) == 0,
        WriteProtect: _rng.Next(100) < 70,
        Nxe: _rng.Next(100) < 90,
        Smep: _rng.Next(2) == 0,
        Smap: _rng.Next(2) == 0,
        AlignmentCheck: _rng.Next(2) == 0,
        ProtectionKeys: _rng.Next(2) == 0,
        Pkru: (uint)_rng.Next(),
        MaxPhysicalAddressBits: _rng.Next(5) switch { 0 => 40, 1 => 48, _ => 52 },
        NonLeafBit8Reserved: _rng.Next(2) == 0,
        Pages1G: _rng.Next(100) < 70);

    public AccessType Access() => (AccessType)_rng.Next(3);

    /// <summary>An entry as the reference walk reads it: null where no guest RAM is.</summary>
    public ulong? Read(ulong table, int index)
    {
        ulong* t = Memory.Map.TryPage(table);
        return t == null ? null : t[index];
    }

    public static int Words => Layout.Sum(r => r.Pages) * 512;

    /// <summary>Every word of guest RAM, region by region.</summary>
    public ulong[] Snapshot()
    {
        var all = new ulong[Words];
        Snapshot(all);
        return all;
    }

    public void Snapshot(Span<ulong> into)
    {
        for (int i = 0; i < Layout.Length; i++)
        {
            Memory.Region(i).CopyTo(into);
            into = into[(Layout[i].Pages * 512)..];
        }
    }

    public void Dispose() => Memory.Dispose();
}
