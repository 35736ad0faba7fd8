using System.Runtime.CompilerServices;

namespace FastPT.Memory;

/// <summary>
/// Tables in a guest's RAM, so entries hold guest-physical addresses a guest CPU can follow.
/// Any table in any region of the <see cref="GuestMemoryMap"/> can be reached (tables the
/// guest built itself included); tables FastPT makes come from one pool of guest-physical
/// pages the embedder sets aside (none: FastPT never makes a table, and walks that would need
/// one stop with <c>OutOfTables</c>).
/// </summary>
public sealed unsafe class GuestMemoryTableSource : ITableSource
{
    private readonly ulong _poolBase;
    private readonly ulong _poolSize;
    private readonly Stack<ulong> _free = new();
    private ulong _next;
    private long _inUse;

    /// <summary>One region of guest RAM that is also the pool for the tables FastPT makes.</summary>
    public GuestMemoryTableSource(byte* hostBase, ulong guestPhysicalBase, ulong sizeBytes)
        : this(SingleRegion(hostBase, guestPhysicalBase, sizeBytes), guestPhysicalBase, sizeBytes & ~4095UL)
    {
    }

    /// <param name="memory">Guest RAM: tables are reached through it and only through it.</param>
    /// <param name="poolGuestPhysical">Start of the pages FastPT may use for new tables (4 KiB-aligned).</param>
    /// <param name="poolSize">Bytes in the pool; 0 = FastPT makes no tables (an attached guest's tables are edited in place only).</param>
    public GuestMemoryTableSource(GuestMemoryMap memory, ulong poolGuestPhysical = 0, ulong poolSize = 0)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if ((poolGuestPhysical & 4095) != 0)
            throw new ArgumentException($"the table pool at guest-physical 0x{poolGuestPhysical:X} must be 4 KiB-aligned", nameof(poolGuestPhysical));
        poolSize &= ~4095UL;
        if (poolSize != 0 && memory.TryHost(poolGuestPhysical, poolSize) == null)
            throw new ArgumentOutOfRangeException(nameof(poolGuestPhysical), $"the table pool [0x{poolGuestPhysical:X}, 0x{poolGuestPhysical + poolSize:X}) is not inside one region of guest RAM ({memory.Describe()})");
        Memory = memory;
        _poolBase = poolGuestPhysical;
        _poolSize = poolSize;
        _next = poolGuestPhysical;
    }

    public GuestMemoryMap Memory { get; }

    public long TablesInUse => _inUse;

    public bool TryAllocate(out ulong physical)
    {
        physical = 0;
        ulong pa;
        if (_free.Count > 0)
            pa = _free.Peek();
        else if (_next - _poolBase < _poolSize)
            pa = _next;
        else
            return false;
        // The pool's region may have been removed since: then there is no table to give.
        ulong* table = Memory.TryPage(pa);
        if (table == null)
            return false;
        if (_free.Count > 0)
            _free.Pop();
        else
            _next += 4096;
        new Span<ulong>(table, 512).Clear();
        _inUse++;
        physical = pa;
        return true;
    }

    /// <summary>
    /// The table at a guest-physical address. A guest can write its own tables, so a link may
    /// point anywhere: outside guest RAM this throws instead of touching foreign memory (walks
    /// over guest-written entries use <see cref="TryTable"/>).
    /// </summary>
    public ulong* Table(ulong physical)
    {
        ulong* t = Memory.TryPage(physical);
        if (t == null)
            ThrowOutside(physical);
        return t;
    }

    /// <summary>The table at a guest-physical address, or null when no guest RAM is there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* TryTable(ulong physical) => Memory.TryPage(physical);

    /// <summary>Any page of guest RAM can hold a table (the guest's own or one of the pool's).</summary>
    public bool ContainsTable(ulong physical) => (physical & 4095) == 0 && Memory.TryPage(physical) != null;

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowOutside(ulong physical) =>
        throw new ArgumentOutOfRangeException(nameof(physical), $"guest-physical 0x{physical:X} is outside guest RAM ({Memory.Describe()}): an entry links to memory that is not there");

    /// <summary>Returns a table FastPT made; tables of the guest's own are never taken into the pool.</summary>
    public void Free(ulong physical)
    {
        if ((physical & 4095) != 0 || physical - _poolBase >= _next - _poolBase)
            throw new ArgumentException($"0x{physical:X} is not a table this source made (pool 0x{_poolBase:X}..0x{_poolBase + _poolSize:X}, 4 KiB-aligned)", nameof(physical));
        _free.Push(physical);
        _inUse--;
    }

    private static GuestMemoryMap SingleRegion(byte* hostBase, ulong guestPhysicalBase, ulong sizeBytes)
    {
        if (hostBase == null)
            throw new ArgumentNullException(nameof(hostBase));
        if (((ulong)hostBase & 4095) != 0 || (guestPhysicalBase & 4095) != 0)
            throw new ArgumentException("guest memory for tables must be 4 KiB-aligned (host pointer and guest-physical base)");
        if (sizeBytes < 4096)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "room for at least one 4 KiB table is needed");
        // Entries hold bits 12..51 of a table's address: the whole region must lie below 2^52.
        if (guestPhysicalBase >= GuestMemoryMap.MaxGuestPhysical || (sizeBytes & ~4095UL) > GuestMemoryMap.MaxGuestPhysical - guestPhysicalBase)
            throw new ArgumentOutOfRangeException(nameof(guestPhysicalBase), $"guest-physical tables 0x{guestPhysicalBase:X} + 0x{sizeBytes:X} bytes end above 2^52; entries cannot link them. Place the region lower.");
        var map = new GuestMemoryMap();
        map.Add(guestPhysicalBase, sizeBytes & ~4095UL, hostBase);
        return map;
    }
}
