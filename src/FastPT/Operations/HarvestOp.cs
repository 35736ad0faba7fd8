using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>
/// A/D harvest as a walker operation: bit k of the bitmap is set for the page at
/// <c>start + k * 4096</c> whose bit was harvested, 4 KiB PTEs and huge leaves alike (a dirty
/// 2 MiB leaf sets all the bits of its pages). It never allocates unless asked to split:
/// a huge leaf the range covers only in part reports its covered pages and keeps its bit,
/// so nothing outside the range is lost. With <see cref="SharedTables"/> as
/// <typeparamref name="TMode"/> every clear is atomic, so a bit a vCPU sets meanwhile is seen.
/// </summary>
internal readonly unsafe struct HarvestOp<TMode> : ILeafOp
    where TMode : struct, ITableWriteMode
{
    private readonly ulong* _bitmap;
    private readonly ulong _start;
    private readonly HarvestBit _which;
    private readonly bool _splitPartial;
    private readonly bool _atomicBitmap;
    private readonly KernelIsa _isa;

    /// <param name="bitmap">One bit per 4 KiB page of the range from <paramref name="start"/>; bits are ORed in.</param>
    /// <param name="splitPartialHuge">Split a huge leaf the range covers in part, for 4 KiB granularity at the edges.</param>
    /// <param name="atomicBitmap">Copies of the op on other threads OR into neighbouring bits of the same words.</param>
    /// <param name="isa">The kernel width (tests run every one; default: the process's).</param>
    public HarvestOp(ulong* bitmap, ulong start, HarvestBit which, bool splitPartialHuge = false, bool atomicBitmap = false,
        KernelIsa? isa = null)
    {
        _isa = isa ?? KernelIsas.Selected;
        _bitmap = bitmap;
        _start = start;
        _which = which;
        _splitPartial = splitPartialHuge;
        _atomicBitmap = atomicBitmap;
    }

    public bool PopulateTables => false;

    public bool FreeEmptyCoveredTables => false;

    public ulong StopAt => 0;

    public bool SplitsHuge(ulong entry, int level, bool covered) =>
        !covered && _splitPartial && (entry & Pte.Present) != 0;

    public bool Hole(ulong va, ulong end) => true;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        Span<ulong> got = stackalloc ulong[8];
        got.Clear();
        changed += HarvestKernels.Harvest<TMode>(_isa, entries, count, _which, got, flush);
        ulong page = (va - _start) >> 12;
        for (int w = 0; w < 8; w++)
        {
            ulong bits = got[w];
            if (bits == 0)
                continue;
            ulong at = page + (ulong)(w * 64);
            int shift = (int)(at & 63);
            // Runs start at any page, so a word of the run may straddle two bitmap words.
            Or(at >> 6, bits << shift);
            if (shift != 0 && (bits >> (64 - shift)) != 0)
                Or((at >> 6) + 1, bits >> (64 - shift));
        }
        return true;
    }

    public HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
    {
        ulong bit = _which == HarvestBit.Dirty ? Pte.Dirty : Pte.Accessed;
        ulong old = TMode.Shared ? Volatile.Read(ref *entry) : *entry;
        if ((old & (Pte.Present | bit)) != (Pte.Present | bit))
            return HugeAction.Done;
        ulong size = 1UL << (12 + 9 * (level - 1));
        if (from == leafVa && to == leafVa + size)
        {
            // Covered: the bit goes (atomically when a vCPU may set it meanwhile) and every page reports.
            if (TMode.Shared)
                old = TMode.And(entry, ~bit);
            else
                *entry = old & ~bit;
            if ((old & (Pte.Present | bit)) != (Pte.Present | bit))
                return HugeAction.Done;
            flush = FlushRules.NeedsFlush(old, old & ~bit);
        }
        SetRange((from - _start) >> 12, (to - _start) >> 12);
        changed += (long)((to - from) >> 12);
        return HugeAction.Done;
    }

    /// <summary>Sets bits [first, end) of the bitmap.</summary>
    private void SetRange(ulong first, ulong end)
    {
        ulong w = first >> 6, last = (end - 1) >> 6;
        ulong head = ulong.MaxValue << (int)(first & 63), tail = ulong.MaxValue >> (int)(63 - ((end - 1) & 63));
        if (w == last)
        {
            Or(w, head & tail);
            return;
        }
        Or(w, head);
        for (w++; w < last; w++)
            Or(w, ulong.MaxValue);
        Or(last, tail);
    }

    private void Or(ulong word, ulong bits)
    {
        if (_atomicBitmap)
            Interlocked.Or(ref _bitmap[word], bits);
        else
            _bitmap[word] |= bits;
    }
}
