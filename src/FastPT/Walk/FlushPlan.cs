namespace FastPT.Walk;

/// <summary>A virtual-address range [Start, End) whose old translations a TLB may still hold.</summary>
public readonly record struct FlushRange(ulong Start, ulong End);

/// <summary>
/// The TLB invalidations an operation owes: coalesced, ascending VA ranges. Reuse one plan
/// across calls (<see cref="Clear"/>) and the hot path allocates nothing once it has grown.
/// </summary>
public sealed class FlushPlan
{
    private FlushRange[] _ranges = new FlushRange[16];
    private int _count;

    public int Count => _count;

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

    public void Clear() => _count = 0;

    /// <summary>Adds [start, end); merges with the last range when they touch.</summary>
    public void Add(ulong start, ulong end)
    {
        if (_count > 0 && _ranges[_count - 1].End >= start && _ranges[_count - 1].Start <= end)
        {
            ref var last = ref _ranges[_count - 1];
            last = new FlushRange(Math.Min(last.Start, start), Math.Max(last.End, end));
            return;
        }
        if (_count == _ranges.Length)
            Array.Resize(ref _ranges, _count * 2);
        _ranges[_count++] = new FlushRange(start, end);
    }

    /// <summary>Adds one range per run of set bits in a 512-entry mask of 4 KiB pages starting at va.</summary>
    public void AddMask(ReadOnlySpan<ulong> mask, ulong va)
    {
        for (int w = 0; w < mask.Length; w++)
        {
            ulong bits = mask[w];
            if (bits == ulong.MaxValue)
            {
                // Whole words of flushes (a protect of a present table): one Add for the lot,
                // the same range the per-word Adds would have merged into.
                int to = w + 1;
                while (to < mask.Length && mask[to] == ulong.MaxValue)
                    to++;
                Add(va + ((ulong)w << 18), va + ((ulong)to << 18));
                w = to - 1;
                continue;
            }
            while (bits != 0)
            {
                int first = System.Numerics.BitOperations.TrailingZeroCount(bits);
                int run = System.Numerics.BitOperations.TrailingZeroCount(~(bits >> first));
                if (first + run >= 64)
                    run = 64 - first;
                ulong page = (ulong)(w * 64 + first);
                Add(va + (page << 12), va + ((page + (ulong)run) << 12));
                bits &= run == 64 ? 0 : ~(((1UL << run) - 1) << first);
            }
        }
    }

    public override string ToString() =>
        string.Join(", ", Ranges.ToArray().Select(r => $"[0x{r.Start:X}, 0x{r.End:X})"));
}
