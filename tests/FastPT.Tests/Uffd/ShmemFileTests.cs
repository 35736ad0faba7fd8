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
}
