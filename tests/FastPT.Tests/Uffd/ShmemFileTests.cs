using FastPT.Uffd;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>The page cache of one memfd: a page keeps its frame until the file goes, chunk edges included.</summary>
public class ShmemFileTests
{
    [Fact]
    public void A_page_keeps_its_frame_and_pages_never_share_one()
    {
        var frames = new FrameAllocator();
        var file = new ShmemFile(130); // two whole 64-frame chunks and a partial third
        Assert.Equal(130, file.Pages);
        var seen = new Dictionary<long, ulong>();
        foreach (long page in new long[] { 0, 63, 64, 127, 128, 129, 5 })
        {
            Assert.False(file.TryGet(page, out ulong none));
            Assert.Equal(0UL, none);
            ulong pfn = file.GetOrCreate(page, frames);
            Assert.NotEqual(0UL, pfn);
            Assert.DoesNotContain(pfn, seen.Values);
            seen[page] = pfn;
        }
        foreach (var (page, pfn) in seen)
        {
            Assert.Equal(pfn, file.GetOrCreate(page, frames)); // cached: no new frame
            Assert.True(file.TryGet(page, out ulong got));
            Assert.Equal(pfn, got);
        }
        Assert.False(file.TryGet(1, out _)); // a neighbour in a made chunk is still not cached
        Assert.False(file.TryGet(65, out _));
    }

    [Fact]
    public void Pages_outside_the_file_are_not_cached_and_cannot_be_made()
    {
        var frames = new FrameAllocator();
        var file = new ShmemFile(64);
        file.GetOrCreate(63, frames);
        Assert.False(file.TryGet(64, out _));
        Assert.False(file.TryGet(-1, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.GetOrCreate(64, frames));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.GetOrCreate(-1, frames));
    }

    [Fact]
    public void A_released_files_chunks_serve_the_next_file_empty()
    {
        var frames = new FrameAllocator();
        var spares = new Stack<ulong[]>();
        var gone = new ShmemFile(200, spares);
        for (long page = 0; page < 200; page += 7)
            gone.GetOrCreate(page, frames);
        gone.Release();
        Assert.Equal(4, spares.Count); // every chunk it made
        Assert.False(gone.TryGet(7, out _));
        var next = new ShmemFile(200, spares);
        for (long page = 0; page < 200; page++)
            Assert.False(next.TryGet(page, out _));
        next.GetOrCreate(0, frames); // takes a spare: the old frames in it must not show
        for (long page = 1; page < 64; page++)
            Assert.False(next.TryGet(page, out _), $"page {page} came back from the released file");
        Assert.Equal(3, spares.Count);
    }
}
