namespace FastPT.Uffd;

/// <summary>
/// A memfd's page cache: which file pages exist and the frame each lives in. Pages come
/// into the cache on first touch and stay until the file goes (zap never drops them).
/// Kept as chunks of 64 frames made on first touch (0 = not cached: no page lives in frame
/// 0), so a lookup is two array reads; fault-around asks for 16 neighbours per read fault, within
/// one chunk. Small chunks: a runtime maps and touches many tiny files (a JIT's double-mapped
/// code pages), and a 512-frame chunk per touched file cost 4 KiB of zeroed heap each. When
/// the last VMA mapping the file goes, its chunks go back to the model's spares for the next
/// files (a build maps and unmaps thousands).
/// </summary>
internal sealed class ShmemFile(long pages, Stack<ulong[]>? spareChunks = null)
{
    private const int ChunkShift = 6;
    private readonly ulong[]?[] _chunks = new ulong[]?[(pages + (1L << ChunkShift) - 1) >> ChunkShift];

    public long Pages { get; } = pages;

    private int _mappings;

    /// <summary>One more VMA maps this file.</summary>
    public void AddMapping() => _mappings++;

    /// <summary>A VMA mapping this file went; with the last, the file goes (<see cref="Release"/>).</summary>
    public void RemoveMapping()
    {
        if (--_mappings == 0)
            Release();
    }

    /// <summary>The file is gone: its chunks become spares, and it caches nothing from now on.</summary>
    public void Release()
    {
        for (int i = 0; i < _chunks.Length; i++)
        {
            if (_chunks[i] is { } chunk)
                spareChunks?.Push(chunk);
            _chunks[i] = null;
        }
    }

    public bool TryGet(long page, out ulong pfn)
    {
        ulong[]? chunk = (ulong)page < (ulong)Pages ? _chunks[page >> ChunkShift] : null;
        pfn = chunk?[page & ((1L << ChunkShift) - 1)] ?? 0;
        return pfn != 0;
    }

    public ulong GetOrCreate(long page, FrameAllocator frames)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((ulong)page, (ulong)Pages, nameof(page));
        ref ulong[]? chunk = ref _chunks[page >> ChunkShift];
        chunk ??= NewChunk();
        ref ulong slot = ref chunk[page & ((1L << ChunkShift) - 1)];
        if (slot == 0)
            slot = frames.Allocate(1);
        return slot;
    }

    private ulong[] NewChunk()
    {
        if (spareChunks is not { Count: > 0 })
            return new ulong[1 << ChunkShift];
        var chunk = spareChunks.Pop();
        Array.Clear(chunk); // a spare still holds its old file's frames
        return chunk;
    }
}
