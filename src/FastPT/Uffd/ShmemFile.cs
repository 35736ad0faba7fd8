namespace FastPT.Uffd;

/// <summary>
/// A memfd's page cache: which file pages exist and the frame each lives in. Pages come
/// into the cache on first touch and stay until the file goes (zap never drops them).
/// </summary>
internal sealed class ShmemFile(long pages)
{
    private readonly Dictionary<long, ulong> _cache = [];

    public long Pages { get; } = pages;

    public bool TryGet(long page, out ulong pfn) => _cache.TryGetValue(page, out pfn);

    public ulong GetOrCreate(long page, FrameAllocator frames)
    {
        if (!_cache.TryGetValue(page, out ulong pfn))
            _cache[page] = pfn = frames.Allocate(1);
        return pfn;
    }
}
