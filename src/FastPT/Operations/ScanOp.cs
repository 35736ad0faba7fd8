using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// The written-page scan as a walker operation: one category byte per 4 KiB page of the range
/// at <c>categories[(va - start) / 4096]</c>; counts written pages; write-protects them with
/// WP_MATCHING. Pages the walk skips (no table) keep the caller's bytes: fill them with the
/// hole category first. Huge leaves are not scanned here.
/// </summary>
public readonly unsafe struct ScanOp : ILeafOp
{
    private readonly byte* _categories;
    private readonly ulong _start;
    private readonly ScanParams _p;
    private readonly bool _shared;

    public ScanOp(byte* categories, ulong start, in ScanParams p, bool sharedTables)
    {
        _categories = categories;
        _start = start;
        _p = p;
        _shared = sharedTables;
    }

    public bool PopulateTables => false;

    public bool FreeEmptyCoveredTables => false;

    public bool SplitCoveredHuge(ulong entry, int level) => false;

    public void Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        var cats = new Span<byte>(_categories + ((va - _start) >> 12), count);
        changed += _shared
            ? ScanKernels.Apply<SharedTables>(KernelIsas.Selected, entries, count, _p, cats, flush)
            : ScanKernels.Apply<ExclusiveTables>(KernelIsas.Selected, entries, count, _p, cats, flush);
    }

    public void Huge(ulong* entry, int level, ulong va, ref long changed, ref bool flush)
    {
    }
}
