using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// A/D harvest as a walker operation: bit k of <c>bitmap</c> is set for the page at
/// <c>start + k * 4096</c> whose bit was harvested. Copies of the op (one per thread in
/// ParallelWalker) write disjoint bits of the same bitmap. Huge leaves are left alone.
/// </summary>
public readonly unsafe struct HarvestOp : ILeafOp
{
    private readonly ulong* _bitmap;
    private readonly ulong _start;
    private readonly HarvestBit _which;
    private readonly bool _shared;

    /// <param name="bitmap">One bit per 4 KiB page of [start, end), zeroed by the caller; its words must not be shared with another walk.</param>
    public HarvestOp(ulong* bitmap, ulong start, HarvestBit which, bool sharedTables)
    {
        _bitmap = bitmap;
        _start = start;
        _which = which;
        _shared = sharedTables;
    }

    public bool PopulateTables => false;

    public bool FreeEmptyCoveredTables => false;

    public bool SplitCoveredHuge(ulong entry, int level) => false;

    public void Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        Span<ulong> got = stackalloc ulong[8];
        got.Clear();
        changed += _shared
            ? HarvestKernels.Harvest<SharedTables>(KernelIsas.Selected, entries, count, _which, got, flush)
            : HarvestKernels.Harvest<ExclusiveTables>(KernelIsas.Selected, entries, count, _which, got, flush);
        ulong page = (va - _start) >> 12;
        for (int w = 0; w < 8; w++)
        {
            ulong bits = got[w];
            if (bits == 0)
                continue;
            ulong at = page + (ulong)(w * 64);
            int shift = (int)(at & 63);
            // Runs start at any page, so a word of the run may straddle two bitmap words. The
            // atomic OR keeps neighbouring runs (other threads) from losing each other's bits.
            Interlocked.Or(ref _bitmap[at >> 6], bits << shift);
            if (shift != 0 && (bits >> (64 - shift)) != 0)
                Interlocked.Or(ref _bitmap[(at >> 6) + 1], bits >> (64 - shift));
        }
    }

    public void Huge(ulong* entry, int level, ulong va, ref long changed, ref bool flush)
    {
    }
}
