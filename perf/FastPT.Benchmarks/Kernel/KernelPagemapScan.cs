using FastPT.Kernels;
using FastPT.Linux;
using FastPT.Linux.Interop;

namespace FastPT.Benchmarks.Kernel;

/// <summary>
/// PAGEMAP_SCAN "written pages, then re-protect them" on anonymous memory registered with
/// WP_ASYNC: every page populated and write-protected, then a fraction written (each write
/// resolves itself in the kernel, no message), then one scan with PM_SCAN_WP_MATCHING.
/// </summary>
public sealed unsafe class KernelPagemapScan : IDisposable
{
    private readonly Userfaultfd _uffd;
    private readonly Pagemap _pagemap;
    private readonly nint _addr;
    private readonly int[] _written;
    private readonly FastPT.Linux.PageRegion[] _regions;

    public KernelPagemapScan(ulong bytes, double writtenFraction, int seed = 1)
    {
        Bytes = bytes;
        _addr = KernelMemory.Map(bytes, MapFlags.Private | MapFlags.Anonymous | MapFlags.NoReserve, -1);
        KernelMemory.Populate(_addr, bytes);
        _uffd = new Userfaultfd(UffdFeature.WpAsync | UffdFeature.WpUnpopulated);
        _uffd.Register(_addr, (nuint)bytes, UffdConstants.RegisterModeWp);
        _pagemap = new Pagemap();
        var r = new Random(seed);
        _written = [.. Enumerable.Range(0, (int)(bytes >> 12)).Where(_ => r.NextDouble() < writtenFraction)];
        _regions = new FastPT.Linux.PageRegion[_written.Length + 16];
        _uffd.WriteProtect(_addr, (nuint)bytes, protect: true);
    }

    public ulong Bytes { get; }

    public long Pages => (long)(Bytes >> 12);

    /// <summary>Writes the chosen pages (each takes one async wp fault); not part of the timed scan.</summary>
    public void Dirty()
    {
        byte* a = (byte*)_addr;
        foreach (int p in _written)
            a[(long)p << 12] ^= 1;
    }

    /// <summary>One PAGEMAP_SCAN over the range: report written pages and write-protect them. Returns pages found.</summary>
    public long ScanAndProtect()
    {
        long found = 0;
        ulong start = (ulong)_addr, end = (ulong)_addr + Bytes;
        while (start < end)
        {
            var arg = new PmScanArg
            {
                Flags = PagemapScan.FlagWpMatching, Start = start, End = end,
                CategoryMask = PageCategories.Written, ReturnMask = PageCategories.Written,
            };
            int n = PagemapScan.Scan(_pagemap, ref arg, _regions);
            for (int i = 0; i < n; i++)
                found += (long)((_regions[i].End - _regions[i].Start) >> 12);
            start = arg.WalkEnd;
        }
        return found;
    }

    public void Dispose()
    {
        _pagemap.Dispose();
        _uffd.Dispose();
        Libc.Munmap(_addr, (nuint)Bytes);
    }
}
