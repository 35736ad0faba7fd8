using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// The written-page scan with re-protect (PAGEMAP_SCAN + PM_SCAN_WP_MATCHING): a populated,
/// write-protected range of which a fraction was written (bit 10 cleared, RW and D set by
/// the write fault's resolution); the timed scan categorises every page and re-protects
/// the written ones.
/// </summary>
public sealed class EngineScan : IDisposable
{
    private readonly EngineRange _range;
    private readonly ulong[] _written;
    private readonly PageRegion[] _regions;
    private static readonly PagemapScanRequest Request = new(Mask: PageCategories.Written, Return: PageCategories.Written, WriteProtectMatching: true);
    private static readonly ScanContext Context = new(PageCategories.WpAllowed, EmptyIsWritten: true, HoleIsWritten: true);

    public EngineScan(ulong bytes, double writtenFraction, int seed = 1)
    {
        _range = new EngineRange(bytes, populated: true);
        _range.Protect();
        var r = new Random(seed);
        _written = [.. Enumerable.Range(0, (int)_range.Pages).Where(_ => r.NextDouble() < writtenFraction)
            .Select(p => EngineRange.Base + ((ulong)p << 12))];
        _regions = new PageRegion[_written.Length + 16];
    }

    public long Pages => _range.Pages;

    public long WrittenPages => _written.Length;

    /// <summary>What a resolved write fault leaves: bit 10 cleared, writable, dirty. Not timed.</summary>
    public void Dirty()
    {
        foreach (ulong va in _written)
        {
            ref ulong e = ref _range.Space.Entry(va, 1);
            e = LinuxPte.MkDirty(LinuxPte.MkWrite(LinuxPte.ClearUffdWp(e)));
        }
    }

    /// <summary>Scan and re-protect through the public verb, as the kernel side's PAGEMAP_SCAN; returns the written pages found.</summary>
    public long ScanAndProtect()
    {
        _range.LastFlush.Clear();
        var r = PageTableOps.Scan(_range.Space, EngineRange.Base, _range.End, Request, _regions, _range.LastFlush, Context);
        if (!r.Complete)
            throw new InvalidOperationException($"the scan stopped at 0x{r.WalkEnd:X} ({r.Status}); the region buffer should hold every run");
        return r.PagesFound;
    }

    public void Dispose() => _range.Dispose();
}
