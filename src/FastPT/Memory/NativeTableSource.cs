using System.Runtime.InteropServices;

namespace FastPT.Memory;

/// <summary>
/// The default table source: tables are blocks from NativeMemory.AlignedAlloc and their
/// "physical address" is the host address itself, so entries hold pointers. Tables are
/// reserved in chunks and recycled through a free list, so walks rarely call the allocator.
/// </summary>
public sealed unsafe class NativeTableSource : ITableSource, IDisposable
{
    private const int TablesPerChunk = 64;
    private readonly List<nint> _chunks = [];
    private readonly Stack<ulong> _free = new();
    private readonly long _limit;
    private long _inUse;

    /// <param name="maxTables">Tables this source may have in use at once (0 = no limit).</param>
    public NativeTableSource(long maxTables = 0) => _limit = maxTables;

    public long TablesInUse => _inUse;

    /// <summary>Tables reserved from the system, in use or free.</summary>
    public long TablesReserved => (long)_chunks.Count * TablesPerChunk;

    public bool TryAllocate(out ulong physical)
    {
        physical = 0;
        if (_limit != 0 && _inUse >= _limit)
            return false;
        if (_free.Count == 0 && !Reserve())
            return false;
        physical = _free.Pop();
        NativeMemory.Clear((void*)physical, 4096);
        _inUse++;
        return true;
    }

    public ulong* Table(ulong physical) => (ulong*)physical;

    public void Free(ulong physical)
    {
        _free.Push(physical);
        _inUse--;
    }

    private bool Reserve()
    {
        void* chunk;
        try
        {
            chunk = NativeMemory.AlignedAlloc(TablesPerChunk * 4096, 4096);
        }
        catch (OutOfMemoryException)
        {
            return false;
        }
        _chunks.Add((nint)chunk);
        for (int i = TablesPerChunk - 1; i >= 0; i--)
            _free.Push((ulong)chunk + (ulong)i * 4096);
        return true;
    }

    public void Dispose()
    {
        foreach (nint chunk in _chunks)
            NativeMemory.AlignedFree((void*)chunk);
        _chunks.Clear();
        _free.Clear();
        _inUse = 0;
    }
}
