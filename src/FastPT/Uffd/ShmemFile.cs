namespace FastPT.Uffd;

/// <summary>
/// A memfd's page cache: which file pages exist and the frame each lives in. Pages come
/// into the cache on first touch and stay until the file goes (zap never drops them).
/// Kept as chunks of 64 frames made on first touch (0 = not cached: no page lives in frame
/// 0), so a lookup is two array reads; fault-around asks for 16 neighbours per read fault, within
/// one chunk. Small chunks: a runtime maps and touches many tiny files (a JIT's double-mapped
/// code pages), and a 512-frame chunk per touched file cost 4 KiB of zeroed heap each.
/// </summary>
internal sealed class ShmemFile(long pages)
{
    private const int ChunkShift = 6;
    private readonly ulong[]?[] _chunks = new ulong[]?[(pages + (1L << ChunkShift) - 1) >> ChunkShift];

    public long Pages { get; } = pages;

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
        chunk ??= new ulong[1 << ChunkShift];
        ref ulong slot = ref chunk[page & ((1L << ChunkShift) - 1)];
        if (slot == 0)
            slot = frames.Allocate(1);
        return slot;
    }
}
