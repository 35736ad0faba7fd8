using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Memory;

namespace FastPT.Paging;

/// <summary>
/// One x86-64 address space: a root table (what CR3 points to) and the tables below it,
/// 4- or 5-level. Levels are numbered as the hardware walks them upward: 1 = PT (pte),
/// 2 = PD (pmd), 3 = PDPT (pud), 4 = PML4, 5 = PML5.
/// </summary>
public sealed unsafe partial class AddressSpace : IDisposable
{
    private readonly ITableSource _tables;
    // The walk's table lookup without an interface call: native tables are at their own address,
    // guest tables are looked up (checked) in guest RAM; any other source goes through TryTable.
    private readonly bool _direct;
    private readonly GuestMemoryMap? _guest;
    private bool _disposed;

    public AddressSpace(ITableSource tables, int levels = 4)
        : this(tables, levels, attached: false)
    {
        if (!tables.TryAllocate(out ulong root))
            throw new TableAllocationException("the table source has no table for the root of a new address space");
        Root = root;
    }

    private AddressSpace(ITableSource tables, int levels, bool attached)
    {
        ArgumentNullException.ThrowIfNull(tables);
        if (levels is not (4 or 5))
            throw new ArgumentOutOfRangeException(nameof(levels), levels, "x86-64 paging has 4 or 5 levels");
        _tables = tables;
        _direct = tables is NativeTableSource;
        _guest = (tables as GuestMemoryTableSource)?.Memory;
        Levels = levels;
        IsAttached = attached;
    }

    public int Levels { get; }

    /// <summary>Physical address of the top-level table: the value to load into CR3.</summary>
    public ulong Root { get; private set; }

    public ITableSource Tables => _tables;

    /// <summary>Number of virtual-address bits (48 or 57).</summary>
    public int VirtualBits => 12 + 9 * Levels;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Shift(int level) => 12 + 9 * (level - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Index(ulong va, int level) => (int)(va >> Shift(level)) & 511;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* Table(ulong physical) => _direct ? (ulong*)physical : _tables.Table(physical);

    /// <summary>The table at a physical address read from an entry, or null where the source has no memory (a hostile link).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* TryTable(ulong physical) =>
        _direct ? (ulong*)physical : _guest != null ? _guest.TryPage(physical) : _tables.TryTable(physical);

    public ulong* RootTable => Table(Root);

    /// <summary>True when va is canonical: bits above VirtualBits-1 copy that bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsCanonical(ulong va)
    {
        int shift = 64 - VirtualBits;
        return (ulong)((long)(va << shift) >> shift) == va;
    }

    /// <summary>The user half of the address space ends here (exclusive).</summary>
    public ulong UserLimit => 1UL << (VirtualBits - 1);

    /// <summary>A leaf at level 2 or 3 has PS set; level 1 is always a leaf; PS above level 3 is reserved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsLeaf(ulong entry, int level) => level == 1 || (level <= 3 && (entry & Pte.PageSize) != 0);

    /// <summary>
    /// The entry at a level on the path to va. Throws if a table above it is missing or the
    /// path ends in a larger leaf: use <see cref="TryGetEntry"/> to probe.
    /// </summary>
    public ref ulong Entry(ulong va, int level)
    {
        ulong* e = TryGetEntry(va, level);
        if (e == null)
            throw new InvalidOperationException($"no table at level {level} for 0x{va:X}: the path is unmapped or ends in a huge page above it");
        return ref *e;
    }

    /// <summary>
    /// Pointer to the entry at a level on va's path, or null if the path stops earlier (a
    /// missing table, a larger leaf, or a link to a table outside the source's memory).
    /// </summary>
    public ulong* TryGetEntry(ulong va, int level)
    {
        CheckLevel(level);
        ulong* table = TryTable(Root);
        for (int l = Levels; l > level && table != null; l--)
        {
            ulong e = table[Index(va, l)];
            if ((e & Pte.Present) == 0 || IsLeaf(e, l))
                return null;
            table = TryTable(e & Pte.PfnMask);
        }
        return table == null ? null : table + Index(va, level);
    }

    /// <summary>Finds the leaf entry for va: a present leaf at any level, or the lowest non-present slot reached.</summary>
    public ulong* FindLeaf(ulong va, out int level)
    {
        ulong* table = RootTable;
        for (level = Levels; ; level--)
        {
            ulong* slot = table + Index(va, level);
            ulong e = *slot;
            if (level == 1 || (e & Pte.Present) == 0 || IsLeaf(e, level))
                return slot;
            table = Table(e & Pte.PfnMask);
        }
    }

    /// <summary>
    /// Maps one page: writes pa | leafFlags (plus PS for 2 MiB / 1 GiB) into the leaf slot,
    /// creating missing tables with tableFlags. Replaces what the leaf slot held. Fails with
    /// nothing changed if va/pa are misaligned, the path ends in a huge page, or a table
    /// cannot be allocated.
    /// </summary>
    public void Map(ulong va, ulong pa, PageSize size, ulong leafFlags, ulong tableFlags = PgProt.Table)
    {
        ulong bytes = size.Bytes();
        CheckAddress(va);
        if ((va & (bytes - 1)) != 0 || (pa & (bytes - 1)) != 0)
            throw new ArgumentException($"va 0x{va:X} and pa 0x{pa:X} must be aligned to the {size} page size");
        if ((pa & ~Pte.PfnMask) != 0)
            throw new ArgumentOutOfRangeException(nameof(pa), $"pa 0x{pa:X} is beyond 52 physical-address bits");
        // Flags are in the leaf's own format: PAT is bit 7 in a 4 KiB PTE and bit 12 in a large
        // leaf (whose bit 7 is PS). Frame bits in the flags would be silently lost or misread.
        ulong frameBitsAllowed = size == PageSize.Size4K ? 0 : Pte.PatLarge;
        if ((leafFlags & Pte.PfnMask & ~frameBitsAllowed) != 0)
            throw new ArgumentException($"leafFlags 0x{leafFlags:X} has bits in the frame field (12..51{(size == PageSize.Size4K ? "" : "; only bit 12, PAT, is allowed for large pages")}): pass the address in pa", nameof(leafFlags));
        CheckTableFlags(tableFlags);
        ulong* slot = EnsurePath(va, size.LeafLevel(), tableFlags);
        ulong leaf = pa | (leafFlags & ~Pte.PfnMask);
        if (size != PageSize.Size4K)
            leaf |= Pte.PageSize | (leafFlags & Pte.PatLarge); // a large leaf's PAT lives at bit 12
        ulong old = *slot;
        if (size != PageSize.Size4K && (old & Pte.Present) != 0 && !IsLeaf(old, size.LeafLevel()))
            throw new InvalidOperationException($"0x{va:X}: a {size} leaf would replace a table; unmap the pages below it first");
        *slot = leaf;
    }

    /// <summary>Clears the leaf that maps va (of the given size) and frees tables left empty.</summary>
    public void Unmap(ulong va, PageSize size)
    {
        CheckAddress(va);
        int level = size.LeafLevel();
        ulong* slot = TryGetEntry(va, level);
        if (slot == null || (level > 1 && (*slot & Pte.Present) != 0 && !IsLeaf(*slot, level)))
            throw new InvalidOperationException($"0x{va:X} is not mapped by a {size} leaf");
        *slot = 0;
        FreeEmptyTables(va, level);
    }

    /// <summary>
    /// Returns the tables on va's path from <paramref name="fromLevel"/> upward that hold no
    /// entry (all zero), clearing the links to them; the root is never freed.
    /// </summary>
    public int FreeEmptyTables(ulong va, int fromLevel)
    {
        if (IsAttached)
            return 0; // the guest's tables are the guest's: emptied, never unlinked or freed
        Span<nint> path = stackalloc nint[6];
        ulong* table = RootTable;
        int l = Levels;
        for (; l > fromLevel; l--)
        {
            path[l] = (nint)(table + Index(va, l));
            ulong e = table[Index(va, l)];
            if ((e & Pte.Present) == 0 || IsLeaf(e, l))
                return 0;
            table = Table(e & Pte.PfnMask);
        }
        int freed = 0;
        for (l = fromLevel; l < Levels; l++)
        {
            ulong* link = (ulong*)path[l + 1];
            ulong* child = Table(*link & Pte.PfnMask);
            if (!new ReadOnlySpan<ulong>(child, 512).ContainsAnyExcept(0UL))
            {
                ulong pa = *link & Pte.PfnMask;
                *link = 0;
                _tables.FreeZeroed(pa);
                freed++;
            }
            else
                break;
        }
        return freed;
    }

    /// <summary>
    /// Walks to the slot at targetLevel, allocating missing tables. All tables the path needs
    /// are allocated before any link is written, so a failure changes nothing.
    /// </summary>
    internal ulong* EnsurePath(ulong va, int targetLevel, ulong tableFlags)
    {
        ulong* table = RootTable;
        int l = Levels;
        for (; l > targetLevel; l--)
        {
            ulong e = table[Index(va, l)];
            if ((e & Pte.Present) == 0)
                break;
            if (IsLeaf(e, l))
                throw new InvalidOperationException($"0x{va:X} lies in a huge page at level {l}; split it first");
            table = Table(e & Pte.PfnMask);
        }
        if (l == targetLevel)
            return table + Index(va, l);
        if (!LinuxPte.IsNone(table[Index(va, l)]))
            throw new InvalidOperationException($"0x{va:X}: the level-{l} entry holds a non-present value 0x{table[Index(va, l)]:X}, not an empty slot");
        int missing = l - targetLevel;
        Span<ulong> fresh = stackalloc ulong[5];
        for (int i = 0; i < missing; i++)
        {
            if (!_tables.TryAllocate(out fresh[i]))
            {
                for (int j = 0; j < i; j++)
                    _tables.FreeZeroed(fresh[j]); // never linked: still zero
                throw new TableAllocationException($"out of page tables while mapping 0x{va:X} ({missing} tables needed, {i} available); nothing was changed");
            }
        }
        for (int i = 0; i < missing; i++, l--)
        {
            table[Index(va, l)] = fresh[i] | tableFlags;
            table = Table(fresh[i]);
        }
        return table + Index(va, targetLevel);
    }

    /// <summary>A table link needs P, no PS, and no frame bits (the table address goes there).</summary>
    internal static void CheckTableFlags(ulong tableFlags)
    {
        if ((tableFlags & Pte.Present) == 0 || (tableFlags & (Pte.PageSize | Pte.PfnMask)) != 0)
            throw new ArgumentException($"tableFlags 0x{tableFlags:X} must set P and leave PS (bit 7) and the frame bits 12..51 clear, e.g. PgProt.Table (0x67)", nameof(tableFlags));
    }

    private void CheckLevel(int level)
    {
        if (level < 1 || level > Levels)
            throw new ArgumentOutOfRangeException(nameof(level), level, $"levels are 1 (PTE) to {Levels}");
    }

    private void CheckAddress(ulong va)
    {
        if (!IsCanonical(va))
            throw new ArgumentOutOfRangeException(nameof(va), $"0x{va:X} is not canonical for {Levels}-level paging ({VirtualBits} bits)");
    }

    /// <summary>Returns every table below the root to the source, then the root; an attached space frees nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!IsAttached)
            FreeSubtree(Root, Levels);
    }

    /// <summary>Disposed without returning its tables: their memory and their source go away with the owner.</summary>
    internal void Abandon() => _disposed = true;

    private void FreeSubtree(ulong tablePa, int level)
    {
        ulong* t = Table(tablePa);
        if (level > 1)
        {
            for (int i = 0; i < 512; i++)
            {
                ulong e = t[i];
                if ((e & Pte.Present) != 0 && !IsLeaf(e, level))
                    FreeSubtree(e & Pte.PfnMask, level - 1);
            }
        }
        _tables.Free(tablePa);
    }
}
