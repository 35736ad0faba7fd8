using System.Runtime.CompilerServices;

namespace FastPT;

/// <summary>
/// A virtual-address range [Start, End) whose old translations a TLB may still hold. An End of 0
/// is the top of the address space (2^64: a huge leaf split at the top of the upper half is
/// flushed whole), as <see cref="Tlb.SoftwareTlb.InvalidateRange"/> reads it.
/// </summary>
/// <param name="Start">The first address.</param>
/// <param name="End">The address after the last one (0: the top of the address space).</param>
public readonly record struct FlushRange(ulong Start, ulong End);

/// <summary>
/// The TLB invalidations an operation owes: coalesced, ascending VA ranges. Reuse one plan
/// across calls (<see cref="Clear"/>) and the hot path allocates nothing once it has grown.
/// </summary>
public sealed class FlushPlan
{
    private FlushRange[] _ranges = new FlushRange[16];
    private int _count;

    /// <summary>How many ranges the plan holds.</summary>
    public int Count => _count;

    /// <summary>The ranges, ascending and coalesced; valid until the plan next changes.</summary>
    public ReadOnlySpan<FlushRange> Ranges => _ranges.AsSpan(0, _count);

    /// <summary>Total bytes of address space to flush.</summary>
    public ulong Bytes
    {
        get
        {
            ulong sum = 0;
            foreach (var r in Ranges)
                sum += r.End - r.Start;
            return sum;
        }
    }

    /// <summary>Empties the plan (keeps its storage), after the caller has flushed.</summary>
    public void Clear() => _count = 0;

    /// <summary>Adds [start, end) (end 0: the top); merges with the last range when they touch.</summary>
    public void Add(ulong start, ulong end)
    {
        // Ends compare as End - 1, so an End of 0 (2^64) is the highest, not the lowest.
        if (_count > 0 && (start == 0 || _ranges[_count - 1].End - 1 >= start - 1) && (end == 0 || _ranges[_count - 1].Start <= end))
        {
            ref var last = ref _ranges[_count - 1];
            last = new FlushRange(Math.Min(last.Start, start), Math.Max(last.End - 1, end - 1) + 1);
            return;
        }
        if (_count == _ranges.Length)
            Array.Resize(ref _ranges, _count * 2);
        _ranges[_count++] = new FlushRange(start, end);
    }

    /// <summary>A whole table's mask is empty: eight loads, no call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Empty(ReadOnlySpan<ulong> mask) =>
        (mask[0] | mask[1] | mask[2] | mask[3] | mask[4] | mask[5] | mask[6] | mask[7]) == 0;

    /// <summary>Adds one range per run of set bits in a 512-entry mask of 4 KiB pages starting at va.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddMask(ReadOnlySpan<ulong> mask, ulong va)
    {
        if (mask.Length == 8 ? Empty(mask) : !mask.ContainsAnyExcept(0UL))
            return; // most runs of a rescan owe nothing here (the scan adds its one range itself)
        for (int w = 0; w < mask.Length; w++)
        {
            ulong bits = mask[w];
            if (bits == ulong.MaxValue && (_count == 0 || _ranges[_count - 1].Start <= va + ((ulong)(w + 1) << 18)))
            {
                // Whole words of flushes (a protect of a present table): one Add for the lot,
                // the same range the per-word Adds would have merged into (unless the last
                // range lies above this word, where per-word Adds would not merge with it).
                int to = w + 1;
                while (to < mask.Length && mask[to] == ulong.MaxValue)
                    to++;
                Add(va + ((ulong)w << 18), va + ((ulong)to << 18));
                w = to - 1;
                continue;
            }
            if (bits == 0)
                continue;
            if (bits == ulong.MaxValue)
            {
                Add(va + ((ulong)w << 18), va + ((ulong)(w + 1) << 18));
                continue;
            }
            // Runs inside one word are separated by clear bits, so usually only the word's first
            // run can touch the last range (merge test in Add); the others are appended directly.
            if (_ranges.Length - _count < 33)
                Array.Resize(ref _ranges, Math.Max(_ranges.Length * 2, _count + 33));
            ref FlushRange slot = ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_ranges);
            ulong wordVa = va + ((ulong)w << 18);
            // First and last bit of every run; walking both masks with tzcnt/blsr keeps the
            // loop's dependency chain to one instruction per run.
            ulong starts = bits & ~(bits << 1), lasts = bits & ~(bits >> 1);
            Add(wordVa + ((ulong)System.Numerics.BitOperations.TrailingZeroCount(starts) << 12),
                wordVa + ((ulong)(System.Numerics.BitOperations.TrailingZeroCount(lasts) + 1) << 12));
            starts &= starts - 1;
            lasts &= lasts - 1;
            int count = _count; // in registers: no store-to-load chain through the fields per run
            ulong lastEnd = System.Runtime.CompilerServices.Unsafe.Add(ref slot, count - 1).End;
            while (starts != 0)
            {
                ulong s = wordVa + ((ulong)System.Numerics.BitOperations.TrailingZeroCount(starts) << 12);
                ulong e = wordVa + ((ulong)(System.Numerics.BitOperations.TrailingZeroCount(lasts) + 1) << 12);
                if (s > lastEnd)
                {
                    System.Runtime.CompilerServices.Unsafe.Add(ref slot, count++) = new FlushRange(s, e);
                    lastEnd = e;
                }
                else
                {
                    // The last range reaches past this run only if it was there before (merged
                    // with the word's first run, or lying above it): the general Add decides.
                    _count = count;
                    Add(s, e);
                    count = _count;
                    lastEnd = System.Runtime.CompilerServices.Unsafe.Add(ref slot, count - 1).End;
                }
                starts &= starts - 1;
                lasts &= lasts - 1;
            }
            _count = count;
        }
    }

    /// <summary>The ranges in hex, e.g. <c>[0x1000, 0x3000)</c>.</summary>
    public override string ToString() =>
        string.Join(", ", Ranges.ToArray().Select(r => $"[0x{r.Start:X}, 0x{r.End:X})"));
}
