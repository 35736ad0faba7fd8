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
public sealed unsafe class EngineScan : IDisposable
{
    private readonly EngineRange _range;
    private readonly ulong[] _written;
    private readonly byte[] _categories;
    private readonly ScanParams _p = new(EmptyIsWritten: true, WriteProtect: true, PageCategories.WpAllowed);

    public EngineScan(ulong bytes, double writtenFraction, int seed = 1)
    {
        _range = new EngineRange(bytes, populated: true);
        _range.Protect();
        var r = new Random(seed);
        _written = [.. Enumerable.Range(0, (int)_range.Pages).Where(_ => r.NextDouble() < writtenFraction)
            .Select(p => EngineRange.Base + ((ulong)p << 12))];
        _categories = GC.AllocateArray<byte>((int)_range.Pages, pinned: true);
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

    /// <summary>Scan and re-protect; returns the written pages found.</summary>
    public long ScanAndProtect()
    {
        fixed (byte* c = _categories)
        {
            var op = new ScanOp(c, EngineRange.Base, _p, sharedTables: false);
            _range.LastFlush.Clear();
            return RangeWalker.Walk(_range.Space, EngineRange.Base, _range.End, ref op, _range.LastFlush).EntriesChanged;
        }
    }

    public void Dispose() => _range.Dispose();
}
