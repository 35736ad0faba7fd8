namespace FastPT.Traces.Perf;

/// <summary>
/// The importer's view of one address space's mappings: sorted, non-overlapping, page-aligned
/// [start, end) intervals. It only answers "what is mapped where", so the operations the
/// importer emits never cross a hole the engine would reject.
/// </summary>
public sealed class RegionMap
{
    private readonly List<(ulong Start, ulong End)> _list = [];

    public int Count => _list.Count;

    public bool Contains(ulong address) => IndexOf(address) >= 0;

    private int IndexOf(ulong address)
    {
        int lo = 0, hi = _list.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var r = _list[mid];
            if (address < r.Start) hi = mid - 1;
            else if (address >= r.End) lo = mid + 1;
            else return mid;
        }
        return ~lo;
    }

    /// <summary>The largest gap around an unmapped address, clipped to [lo, hi).</summary>
    public (ulong Start, ulong End) GapAround(ulong address, ulong lo, ulong hi)
    {
        int i = ~IndexOf(address);
        ulong start = i > 0 ? Math.Max(lo, _list[i - 1].End) : lo;
        ulong end = i < _list.Count ? Math.Min(hi, _list[i].Start) : hi;
        return (start, end);
    }

    /// <summary>The mapped runs (adjacent intervals merged) inside [start, end).</summary>
    public List<(ulong Start, ulong End)> Covered(ulong start, ulong end)
    {
        var runs = new List<(ulong, ulong)>();
        foreach (var r in _list)
        {
            if (r.End <= start || r.Start >= end)
                continue;
            ulong s = Math.Max(r.Start, start), e = Math.Min(r.End, end);
            if (runs.Count > 0 && runs[^1].Item2 == s)
                runs[^1] = (runs[^1].Item1, e);
            else
                runs.Add((s, e));
        }
        return runs;
    }

    /// <summary>The unmapped parts of [start, end).</summary>
    public List<(ulong Start, ulong End)> Holes(ulong start, ulong end)
    {
        var holes = new List<(ulong, ulong)>();
        ulong at = start;
        foreach (var (s, e) in Covered(start, end))
        {
            if (s > at)
                holes.Add((at, s));
            at = e;
        }
        if (at < end)
            holes.Add((at, end));
        return holes;
    }

    public void Add(ulong start, ulong end)
    {
        Remove(start, end);
        int i = ~IndexOf(start);
        _list.Insert(i, (start, end));
    }

    public void Remove(ulong start, ulong end)
    {
        for (int i = _list.Count - 1; i >= 0; i--)
        {
            var r = _list[i];
            if (r.End <= start || r.Start >= end)
                continue;
            _list.RemoveAt(i);
            if (r.Start < start)
                _list.Insert(i, (r.Start, start));
            if (r.End > end)
                _list.Insert(r.Start < start ? i + 1 : i, (end, r.End));
        }
    }

    public IEnumerable<(ulong Start, ulong End)> All => _list;
}
