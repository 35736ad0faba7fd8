using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT;

public sealed unsafe partial class PageTable
{
    /// <summary>
    /// Maps [start, end) to the physical range from <paramref name="physicalAddress"/>, choosing
    /// the largest leaf that fits at each step: a 1 GiB leaf where the virtual and physical
    /// addresses are both 1 GiB-aligned and a whole GiB remains, else 2 MiB likewise, else
    /// 4 KiB (and a smaller one where a table already sits in the slot). Tables are allocated on
    /// the way. The range must be unmapped: every entry in it empty.
    /// </summary>
    /// <param name="start">First virtual byte, 4 KiB-aligned.</param>
    /// <param name="end">End of the range (exclusive), 4 KiB-aligned.</param>
    /// <param name="physicalAddress">Where start maps to, 4 KiB-aligned; the physical range must end at or below 2^52.</param>
    /// <param name="flags">The leaf bits besides P (R/W, U/S, caching, XD, ...).</param>
    /// <param name="largest">The largest leaf to use: <see cref="PageSize.Size4K"/> maps 4 KiB pages only.</param>
    /// <returns>The leaves of each size written and the tables taken.</returns>
    /// <exception cref="PageTableException">
    /// A bad range, address or flag (<see cref="PageTableError.Misaligned"/>, <see cref="PageTableError.InvalidRange"/>,
    /// <see cref="PageTableError.InvalidArgument"/>); an entry already in the range
    /// (<see cref="PageTableError.AlreadyMapped"/>); or no table left
    /// (<see cref="PageTableError.OutOfTables"/>). In each case nothing was changed: what the
    /// call had mapped before it ran out is unmapped again.
    /// </exception>
    /// <example>
    /// <code>
    /// using var table = new PageTable();
    /// // 3 GiB + 6 MiB + 8 KiB of guest RAM at 0: three 1 GiB leaves, three 2 MiB leaves, two 4 KiB leaves.
    /// var m = table.MapRange(0, 0xC060_2000, 0, PageFlags.Writable | PageFlags.User);
    /// </code>
    /// </example>
    public MapResult MapRange(ulong start, ulong end, ulong physicalAddress, PageFlags flags, PageSize largest = PageSize.Size1G)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckRange(start, end);
        if ((physicalAddress & 4095) != 0)
            throw new PageTableException(PageTableError.Misaligned, $"physical address 0x{physicalAddress:X} must be 4 KiB-aligned");
        if (physicalAddress >= MaxPhysical || end - start > MaxPhysical - physicalAddress)
            throw new PageTableException(PageTableError.InvalidRange,
                $"physical range 0x{physicalAddress:X} + 0x{end - start:X} bytes ends above 2^52, beyond what an entry can address");
        if (((ulong)flags & ~(ulong)AllFlags) != 0)
            throw new PageTableException(PageTableError.InvalidArgument,
                $"flags 0x{(ulong)flags:X} has bits PageFlags does not name (0x{(ulong)flags & ~(ulong)AllFlags:X}); P is implied, addresses go in physicalAddress");
        if (largest is not (PageSize.Size4K or PageSize.Size2M or PageSize.Size1G))
            throw new PageTableException(PageTableError.InvalidArgument, $"largest is Size4K, Size2M or Size1G, not {(int)largest}");
        try
        {
            if (FirstEntry(_space.RootTable, _space.Levels, start, end) is { } used)
                throw new PageTableException(PageTableError.AlreadyMapped,
                    $"0x{used.Va:X} in [0x{start:X}, 0x{end:X}) already holds entry 0x{used.Entry:X} at level {used.Level}: UnmapRange it first, or map around it");
            return Fill(start, end, physicalAddress, flags, largest);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            throw Typed(e);
        }
    }

    private const ulong MaxPhysical = 1UL << 52;

    private const PageFlags AllFlags = PageFlags.Writable | PageFlags.User | PageFlags.WriteThrough | PageFlags.CacheDisable
        | PageFlags.Accessed | PageFlags.Dirty | PageFlags.Pat | PageFlags.Global | PageFlags.NoExecute;

    /// <summary>Writes the leaves of an empty range; on running out of tables, removes them again and throws.</summary>
    private MapResult Fill(ulong start, ulong end, ulong physicalAddress, PageFlags flags, PageSize largest)
    {
        ulong small = Pte.Present | (ulong)flags;
        ulong large = Pte.Present | Pte.PageSize | ((ulong)flags & ~Pte.Pat4K) | ((flags & PageFlags.Pat) != 0 ? Pte.PatLarge : 0);
        long tablesBefore = _tables.TablesInUse;
        long n4K = 0, n2M = 0, n1G = 0;
        ulong va = start;
        try
        {
            while (va < end)
            {
                ulong pa = physicalAddress + (va - start);
                int level = LeafLevel(va, pa, end - va, largest);
                ulong* slot = _space.EnsurePath(va, level, PgProt.Table);
                if (level > 1)
                {
                    *slot = pa | large;
                    va += 1UL << AddressSpace.Shift(level);
                    _ = level == 3 ? n1G++ : n2M++;
                    continue;
                }
                // The rest of this 4 KiB-entry table in one go (a 2 MiB boundary ends it).
                int index = AddressSpace.Index(va, 1);
                int count = (int)Math.Min(512UL - (ulong)index, (end - va) >> 12);
                for (int i = 0; i < count; i++)
                    slot[i] = (pa + ((ulong)i << 12)) | small;
                n4K += count;
                va += (ulong)count << 12;
            }
        }
        catch (TableAllocationException e)
        {
            Unfill(start, va);
            throw new PageTableException(PageTableError.OutOfTables,
                $"out of page tables at 0x{va:X} while mapping [0x{start:X}, 0x{end:X}) ({_tables.TablesInUse} in use); nothing was changed. Unmap something, or give the table more memory",
                e);
        }
        return new MapResult(n4K, n2M, n1G, (int)(_tables.TablesInUse - tablesBefore));
    }

    /// <summary>The level of the largest leaf that fits at va: alignment of both addresses, room left, and no table already in its slot.</summary>
    private int LeafLevel(ulong va, ulong pa, ulong remaining, PageSize largest)
    {
        for (int level = largest.LeafLevel(); level > 1; level--)
        {
            ulong size = 1UL << AddressSpace.Shift(level);
            if (((va | pa) & (size - 1)) == 0 && remaining >= size)
            {
                ulong* slot = _space.TryGetEntry(va, level);
                if (slot == null || LinuxPte.IsNone(*slot))
                    return level;
            }
        }
        return 1;
    }

    /// <summary>Clears what a failed <see cref="Fill"/> wrote into [start, end) and returns the tables it made, so nothing is changed.</summary>
    private void Unfill(ulong start, ulong end)
    {
        if (start == end)
            return;
        var op = new ZapOp<ExclusiveTables>(ZapParams.Unmap, freeTables: false);
        RangeWalker.Walk(_space, start, end, ref op, new FlushPlan());
        // Tables left empty, from the lowest one on each 2 MiB step's path upward.
        for (ulong va = start & ~((1UL << 21) - 1); va < end; va += 1UL << 21)
        {
            for (int level = 1; level < _space.Levels; level++)
            {
                if (_space.TryGetEntry(va, level) != null)
                {
                    _space.FreeEmptyTables(va, level);
                    break;
                }
            }
        }
    }

    /// <summary>The first entry that is not empty in [start, end) of a table at a level: a leaf, a marker, anything but a table link or zero.</summary>
    private (ulong Va, ulong Entry, int Level)? FirstEntry(ulong* table, int level, ulong start, ulong end)
    {
        int shift = AddressSpace.Shift(level);
        ulong size = 1UL << shift;
        for (ulong va = start; va < end;)
        {
            ulong next = (va & ~(size - 1)) + size;
            if (next > end || next == 0)
                next = end;
            ulong e = table[(va >> shift) & 511];
            if (!LinuxPte.IsNone(e))
            {
                if (level == 1 || (e & Pte.Present) == 0 || AddressSpace.IsLeaf(e, level))
                    return (va, e, level);
                if (FirstEntry(_space.Table(e & Pte.PfnMask), level - 1, va, next) is { } found)
                    return found;
            }
            va = next;
        }
        return null;
    }
}
