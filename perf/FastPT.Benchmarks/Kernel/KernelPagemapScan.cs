using static FastPT.Benchmarks.Kernel.KernelBaselineInterop;

namespace FastPT.Benchmarks.Kernel;

/// <summary>
/// PAGEMAP_SCAN "written pages, then re-protect them" on anonymous memory registered with
/// WP_ASYNC: every page populated and write-protected, then a fraction written (each write
/// resolves itself in the kernel, no message), then one scan with PM_SCAN_WP_MATCHING.
/// </summary>
public sealed unsafe class KernelPagemapScan : IDisposable
{
    private readonly int _uffd;
    private readonly int _pagemap;
    private readonly byte* _addr;
    private readonly int[] _written;
    private readonly PageRegion[] _regions;

    public KernelPagemapScan(ulong bytes, double writtenFraction, int seed = 1)
    {
        Bytes = bytes;
        _addr = (byte*)mmap(null, (nuint)bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if ((nint)_addr == -1)
            Check(-1, "mmap");
        Check(madvise(_addr, (nuint)bytes, MadvPopulateWrite), "madvise(MADV_POPULATE_WRITE)");
        _uffd = OpenUffd(FeatureWpAsync | FeatureWpUnpopulated);
        Register(_uffd, _addr, bytes);
        _pagemap = open("/proc/self/pagemap", 0);
        Check(_pagemap, "open /proc/self/pagemap");
        var r = new Random(seed);
        _written = [.. Enumerable.Range(0, (int)(bytes >> 12)).Where(_ => r.NextDouble() < writtenFraction)];
        _regions = new PageRegion[_written.Length + 16];
        WriteProtect(_uffd, _addr, bytes, true);
    }

    public ulong Bytes { get; }

    public long Pages => (long)(Bytes >> 12);

    /// <summary>Writes the chosen pages (each takes one async wp fault); not part of the timed scan.</summary>
    public void Dirty()
    {
        foreach (int p in _written)
            _addr[(long)p << 12] ^= 1;
    }

    /// <summary>One PAGEMAP_SCAN over the range: report written pages and write-protect them. Returns pages found.</summary>
    public long ScanAndProtect()
    {
        long found = 0;
        ulong start = (ulong)_addr, end = (ulong)_addr + Bytes;
        fixed (PageRegion* vec = _regions)
        {
            while (start < end)
            {
                var arg = new PmScanArg
                {
                    Size = 96, Flags = 1 /* WP_MATCHING */, Start = start, End = end,
                    Vec = (ulong)vec, VecLen = (ulong)_regions.Length,
                    CategoryMask = 2 /* PAGE_IS_WRITTEN */, ReturnMask = 2,
                };
                int n = ioctl(_pagemap, PagemapScan, &arg);
                Check(n, "PAGEMAP_SCAN");
                for (int i = 0; i < n; i++)
                    found += (long)((vec[i].End - vec[i].Start) >> 12);
                start = arg.WalkEnd;
            }
        }
        return found;
    }

    public void Dispose()
    {
        close(_pagemap);
        close(_uffd);
        munmap(_addr, (nuint)Bytes);
    }
}
