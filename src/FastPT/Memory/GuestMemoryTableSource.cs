namespace FastPT.Memory;

/// <summary>
/// Tables carved out of an embedder's guest-physical memory (host pointer + guest-physical
/// base), so entries hold guest-physical addresses a guest CPU can follow.
/// </summary>
public sealed unsafe class GuestMemoryTableSource : ITableSource
{
    private const ulong MaxPhysical = 1UL << 52;
    private readonly byte* _hostBase;
    private readonly ulong _guestBase;
    private readonly ulong _size;
    private readonly Stack<ulong> _free = new();
    private ulong _next;
    private long _inUse;

    public GuestMemoryTableSource(byte* hostBase, ulong guestPhysicalBase, ulong sizeBytes)
    {
        if (hostBase == null)
            throw new ArgumentNullException(nameof(hostBase));
        if (((ulong)hostBase & 4095) != 0 || (guestPhysicalBase & 4095) != 0)
            throw new ArgumentException("guest memory for tables must be 4 KiB-aligned (host pointer and guest-physical base)");
        if (sizeBytes < 4096)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "room for at least one 4 KiB table is needed");
        // Entries hold bits 12..51 of a table's address: the whole region must lie below 2^52.
        if (guestPhysicalBase >= MaxPhysical || (sizeBytes & ~4095UL) > MaxPhysical - guestPhysicalBase)
            throw new ArgumentOutOfRangeException(nameof(guestPhysicalBase), $"guest-physical tables 0x{guestPhysicalBase:X} + 0x{sizeBytes:X} bytes end above 2^52; entries cannot link them. Place the region lower.");
        _hostBase = hostBase;
        _guestBase = guestPhysicalBase;
        _size = sizeBytes & ~4095UL;
        _next = guestPhysicalBase;
    }

    public long TablesInUse => _inUse;

    public bool TryAllocate(out ulong physical)
    {
        if (_free.Count > 0)
            physical = _free.Pop();
        else if (_next + 4096 <= _guestBase + _size)
        {
            physical = _next;
            _next += 4096;
        }
        else
        {
            physical = 0;
            return false;
        }
        new Span<ulong>(Table(physical), 512).Clear();
        _inUse++;
        return true;
    }

    /// <summary>
    /// The table at a guest-physical address. A guest can write its own tables, so a link may
    /// point anywhere: outside the region this throws instead of touching foreign memory
    /// (one unsigned compare; a stray pointer would take the process down with SIGSEGV).
    /// </summary>
    public ulong* Table(ulong physical)
    {
        ulong offset = physical - _guestBase;
        if (offset >= _size)
            ThrowOutside(physical);
        return (ulong*)(_hostBase + offset);
    }

    public bool ContainsTable(ulong physical) => (physical & 4095) == 0 && physical - _guestBase < _size;

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowOutside(ulong physical) =>
        throw new ArgumentOutOfRangeException(nameof(physical), $"guest-physical 0x{physical:X} is outside the table memory 0x{_guestBase:X}..0x{_guestBase + _size:X}: an entry links to memory this source does not own");

    public void Free(ulong physical)
    {
        if ((physical & 4095) != 0 || physical < _guestBase || physical - _guestBase >= _size)
            throw new ArgumentException($"0x{physical:X} is not a table of this source (guest-physical 0x{_guestBase:X}..0x{_guestBase + _size:X}, 4 KiB-aligned)", nameof(physical));
        _free.Push(physical);
        _inUse--;
    }
}
