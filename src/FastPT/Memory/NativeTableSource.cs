using System.Runtime.InteropServices;

namespace FastPT.Memory;

/// <summary>
/// The default table source: tables are blocks from NativeMemory.AlignedAlloc and their
/// "physical address" is the host address itself, so entries hold pointers. Tables are
/// reserved in chunks, touched (zeroed) when reserved so a walk never takes a host page fault
/// on a fresh table, and recycled through a free list, so walks rarely call the allocator.
/// <see cref="Share"/> gives each of many address spaces its own count over one pool.
/// </summary>
public sealed unsafe class NativeTableSource : ITableSource, IDisposable
{
    private const int MinTablesPerChunk = 64;
    private const int MaxTablesPerChunk = 512; // 2 MiB
    private readonly List<(nint Start, int Tables)> _chunks = [];
    private (nint Start, int Tables)[] _sorted = []; // _chunks by address, rebuilt when a chunk is added
    private readonly Stack<ulong> _free = new();      // returned tables: contents unknown
    private readonly Stack<ulong> _freshZero = new(); // zero: never handed out since their chunk was zeroed, or freed empty
    private readonly long _limit;
    private readonly NativeTableSource? _pool; // a share's: where its tables come from
    private long _inUse;
    private long _reserved;

    /// <param name="maxTables">Tables this source may have in use at once (0 = no limit).</param>
    public NativeTableSource(long maxTables = 0) => _limit = maxTables;

    private NativeTableSource(NativeTableSource pool) => _pool = pool;

    /// <summary>
    /// A source that takes its tables from this one and gives them back to it, counting only its
    /// own: one per address space, so spaces that come and go reuse warm tables (as processes share
    /// the kernel's page allocator) and walks still read tables as plain pointers. Disposing a
    /// share releases nothing; disposing this source releases every table of its shares too.
    /// </summary>
    public NativeTableSource Share() => new(_pool ?? this);

    public long TablesInUse => _inUse;

    /// <summary>Tables reserved from the system, in use or free (the pool's, for a share).</summary>
    public long TablesReserved => _pool?.TablesReserved ?? _reserved;

    /// <summary>Tables that can be handed out without another system allocation (the pool's, for a share).</summary>
    public long TablesFree => _pool?.TablesFree ?? _free.Count + _freshZero.Count;

    public bool TryAllocate(out ulong physical)
    {
        if (_pool != null)
        {
            if (!_pool.TryAllocate(out physical))
                return false;
            _inUse++;
            return true;
        }
        physical = 0;
        if (_limit != 0 && _inUse >= _limit)
            return false;
        if (_free.Count > 0)
        {
            physical = _free.Pop();
            NativeMemory.Clear((void*)physical, 4096);
        }
        else if (_freshZero.Count > 0 || ReserveChunk(MinTablesPerChunk))
        {
            physical = _freshZero.Pop(); // zeroed when its chunk was reserved
        }
        else
        {
            return false;
        }
        _inUse++;
        return true;
    }

    public ulong* Table(ulong physical) => (ulong*)physical;

    /// <summary>Inside one of this source's chunks (binary search over them sorted by address; not for hot paths).</summary>
    public bool ContainsTable(ulong physical)
    {
        if (_pool != null)
            return _pool.ContainsTable(physical);
        if ((physical & 4095) != 0)
            return false;
        if (_sorted.Length != _chunks.Count)
            _sorted = [.. _chunks.OrderBy(c => (ulong)c.Start)];
        int lo = 0, hi = _sorted.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ulong start = (ulong)_sorted[mid].Start;
            if (physical < start)
                hi = mid - 1;
            else if (physical - start >= (ulong)_sorted[mid].Tables * 4096)
                lo = mid + 1;
            else
                return true;
        }
        return false;
    }

    public void Free(ulong physical)
    {
        if (_pool != null)
            _pool.Free(physical);
        else
            _free.Push(physical);
        _inUse--;
    }

    /// <summary>A table the caller saw all zero: handed out again without clearing (a process that maps and unmaps small regions churns tables).</summary>
    public void FreeZeroed(ulong physical)
    {
        if (_pool != null)
            _pool.FreeZeroed(physical);
        else
            _freshZero.Push(physical);
        _inUse--;
    }

    /// <summary>
    /// Makes at least <paramref name="tables"/> tables (capped at what the limit still allows)
    /// available without further system allocation, in chunks of up to 2 MiB whose memory is
    /// touched now: call it before a walk that will allocate many tables (e.g. markers over a
    /// large empty range) so the walk pays neither malloc nor first-touch page faults.
    /// Returns false if the system refused memory (what was reserved stays usable).
    /// </summary>
    public bool Reserve(long tables)
    {
        if (tables < 0)
            throw new ArgumentOutOfRangeException(nameof(tables), tables, "a table count cannot be negative");
        if (_pool != null)
            return _pool.Reserve(tables);
        if (_limit != 0)
            tables = Math.Min(tables, _limit - _inUse);
        while (TablesFree < tables)
        {
            if (!ReserveChunk((int)Math.Clamp(tables - TablesFree, MinTablesPerChunk, MaxTablesPerChunk)))
                return false;
        }
        return true;
    }

    private bool ReserveChunk(int count)
    {
        void* chunk;
        try
        {
            chunk = NativeMemory.AlignedAlloc((nuint)count * 4096, 4096);
        }
        catch (OutOfMemoryException)
        {
            return false;
        }
        NativeMemory.Clear(chunk, (nuint)count * 4096); // first touch here, not in a walk
        _chunks.Add(((nint)chunk, count));
        _reserved += count;
        for (int i = count - 1; i >= 0; i--)
            _freshZero.Push((ulong)chunk + (ulong)i * 4096);
        return true;
    }

    public void Dispose()
    {
        if (_pool != null)
            return; // the pool's memory: released with the pool
        foreach (var (chunk, _) in _chunks)
            NativeMemory.AlignedFree((void*)chunk);
        _chunks.Clear();
        _sorted = [];
        _free.Clear();
        _freshZero.Clear();
        _inUse = 0;
        _reserved = 0;
    }
}
