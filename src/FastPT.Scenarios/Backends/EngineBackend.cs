using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;
using U = FastPT.Uffd;

namespace FastPT.Scenarios.Backends;

/// <summary>
/// The engine side of the differential check: the script runs on a <see cref="MemoryModel"/>,
/// FastPT's own tables with Linux's fault, write-protect, zap and scan rules.
/// Regions sit 2 MiB below a 1 GiB boundary, so page 512 of a region crosses a pud boundary
/// (the kernel places them wherever mmap does; only the 2 MiB alignment is visible).
/// </summary>
public sealed class EngineBackend : IScenarioBackend
{
    private const ulong OneGiB = 1UL << 30;
    private const ulong TwoMiB = 1UL << 21;
    private readonly Dictionary<string, ulong> _bases = [];
    // The model has no TLB to invalidate: each operation's plan is dropped after the call, as
    // an embedder clears it once it has issued the invalidations.
    private readonly FlushPlan _flush = new();
    private PageRegion[] _regions = new PageRegion[64];
    private MemoryModel? _model;
    private ulong _nextSlot = 0x10_0000_0000;

    public MemoryModel Model => _model ?? throw new InvalidOperationException("Open must come before any region");

    public void Open(UffdFeatures features)
    {
        var f = U.UffdFeatures.None;
        if (features.WpUnpopulated)
            f |= U.UffdFeatures.WpUnpopulated;
        if (features.WpAsync)
            f |= U.UffdFeatures.WpAsync;
        _model = new MemoryModel(f);
    }

    public void CreateRegion(RegionSpec region)
    {
        ulong size = (ulong)region.Pages << 12;
        ulong start = _nextSlot + OneGiB - TwoMiB;
        _nextSlot = (start + size + TwoMiB + OneGiB - 1) & ~(OneGiB - 1);
        Model.Map(start, size, region.Kind == RegionKind.File ? Backing.File : Backing.Anon,
            MemoryProtection.ReadWrite, hugePageHint: region.Thp);
        if (region.Wp)
            Model.RegisterWriteProtect(start, size, Flushed());
        _bases.Add(region.Name, start);
    }

    public AccessOutcome Access(string region, long page, bool write)
    {
        ulong va = Address(region, page);
        var r = Model.Access(va, write, Flushed());
        switch (r.Outcome)
        {
            case U.AccessOutcome.Completed:
                return AccessOutcome.Completed;
            case U.AccessOutcome.SegmentationFault:
                return AccessOutcome.Segv;
            default:
                // As a userfaultfd server: unprotect the page, then the access retries.
                Model.WriteProtect(r.Message.Address, 4096, protect: false, Flushed());
                var retry = Model.Access(va, write, Flushed());
                if (retry.Outcome != U.AccessOutcome.Completed)
                    throw new InvalidOperationException($"{region}:{page}: the access did not complete after its write-protect fault was resolved ({retry.Outcome})");
                return AccessOutcome.WpFault;
        }
    }

    public void Zap(string region, long first, long count) => Model.Zap(Address(region, first), Bytes(count), Flushed());

    public void WriteProtect(string region, long first, long count, bool protect) =>
        Model.WriteProtect(Address(region, first), Bytes(count), protect, Flushed());

    public void Protect(string region, long first, long count, Protection protection) =>
        Model.Protect(Address(region, first), Bytes(count), protection switch
        {
            Protection.None => MemoryProtection.None,
            Protection.Read => MemoryProtection.Read,
            _ => MemoryProtection.ReadWrite,
        }, Flushed());

    public void Unregister(string region)
    {
        ulong start = _bases[region];
        Model.Unregister(start, RegionBytes(region), Flushed());
    }

    public void Pagemap(string region, long first, long count, Span<ulong> entries)
    {
        for (int i = 0; i < count; i++)
            entries[i] = Model.Pagemap(Address(region, first + i));
    }

    public ScanOutcome Scan(string region, long first, long count, ScanRequest request)
    {
        ulong start = Address(region, first);
        int vec = request.VecLengthFor(count); // as the kernel side
        if (_regions.Length < vec)
            _regions = new PageRegion[vec];
        var result = Model.Scan(start, start + Bytes(count), new PagemapScanRequest(
            request.Mask, request.AnyOf, request.Inverted, request.Return, request.MaxPages, request.WriteProtectMatching),
            _regions.AsSpan(0, vec), Flushed());
        ulong b = _bases[region];
        var runs = _regions.AsSpan(0, result.RegionCount).ToArray()
            .Select(r => new ScanRun((long)((r.Start - b) >> 12), (long)((r.End - b) >> 12) - 1, r.Categories))
            .ToList();
        return new ScanOutcome(runs, (long)((result.WalkEnd - b) >> 12));
    }

    private FlushPlan Flushed()
    {
        _flush.Clear();
        return _flush;
    }

    private ulong Address(string region, long page) => _bases[region] + ((ulong)page << 12);

    private static ulong Bytes(long pages) => (ulong)pages << 12;

    private ulong RegionBytes(string region)
    {
        ulong start = _bases[region];
        return Model.RegionLength(start);
    }

    public void Dispose() => _model?.Dispose();
}
