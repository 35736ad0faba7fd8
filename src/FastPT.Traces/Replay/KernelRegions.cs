using FastPT.Traces.Operations;

namespace FastPT.Traces.Replay;

/// <summary>One range the kernel target mapped, in traced addresses.</summary>
internal struct KernelRegion
{
    public ulong Start, End;
    public TraceRegionKind Kind;
    public TraceProtection Protection;
    public bool Registered;
    /// <summary>Offset in the space's memfd of <see cref="Start"/> (file mappings).</summary>
    public ulong FileOffset;

    public readonly bool Allows(bool write) => write ? Protection == TraceProtection.ReadWrite : Protection != TraceProtection.None;

    /// <summary>Whether next continues this range with the same state (so the two can be one entry).</summary>
    public readonly bool Continues(in KernelRegion next) =>
        End == next.Start && Kind == next.Kind && Protection == next.Protection && Registered == next.Registered
        && (Kind == TraceRegionKind.Anon || FileOffset + (End - Start) == next.FileOffset);
}

/// <summary>
/// What the kernel target has mapped, with the protection and registration it set: sorted,
/// disjoint ranges in traced addresses. It decides which accesses the protection refuses (the
/// target never touches those pages: the process must not take a signal) and checks each
/// operation's range as the engine does, so both targets refuse the same operations before
/// anything changes.
/// </summary>
internal sealed class KernelRegions
{
    private readonly List<KernelRegion> _list = [];

    /// <summary>Index of the first range ending above va (Count if none).</summary>
    private int FirstEndingAfter(ulong va)
    {
        int lo = 0, hi = _list.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_list[mid].End <= va)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    /// <summary>The range containing va, if any.</summary>
    public bool TryFind(ulong va, out KernelRegion region)
    {
        int i = FirstEndingAfter(va);
        if (i < _list.Count && _list[i].Start <= va)
        {
            region = _list[i];
            return true;
        }
        region = default;
        return false;
    }

    public bool Overlaps(ulong start, ulong end)
    {
        int i = FirstEndingAfter(start);
        return i < _list.Count && _list[i].Start < end;
    }

    /// <summary>Throws (as the engine does) unless [start, end) is mapped without a hole.</summary>
    public void RequireMapped(ulong start, ulong end)
    {
        ulong at = start;
        for (int i = FirstEndingAfter(start); i < _list.Count && _list[i].Start <= at && at < end; i++)
            at = _list[i].End;
        if (at < end)
            throw new InvalidOperationException($"[0x{start:X}, 0x{end:X}) is not entirely mapped (hole at 0x{at:X}); the kernel would fail with ENOMEM");
    }

    /// <summary>Throws unless every range in [start, end) is registered for write-protect.</summary>
    public void RequireRegistered(ulong start, ulong end)
    {
        for (int i = FirstEndingAfter(start); i < _list.Count && _list[i].Start < end; i++)
        {
            if (!_list[i].Registered)
                throw new InvalidOperationException($"[0x{_list[i].Start:X}, 0x{_list[i].End:X}) is not registered for write-protect (UFFDIO_WRITEPROTECT would fail with ENOENT)");
        }
    }

    /// <summary>Whether any page of [start, end) is registered.</summary>
    public bool AnyRegistered(ulong start, ulong end)
    {
        for (int i = FirstEndingAfter(start); i < _list.Count && _list[i].Start < end; i++)
        {
            if (_list[i].Registered)
                return true;
        }
        return false;
    }

    public void Add(in KernelRegion region) => _list.Insert(FirstEndingAfter(region.Start), region);

    public void Remove(ulong start, ulong end)
    {
        int i = Cut(start, end);
        int j = i;
        while (j < _list.Count && _list[j].Start < end)
            j++;
        _list.RemoveRange(i, j - i);
    }

    public void SetProtection(ulong start, ulong end, TraceProtection protection)
    {
        for (int i = Cut(start, end); i < _list.Count && _list[i].Start < end; i++)
            _list[i] = _list[i] with { Protection = protection };
        Join(start, end);
    }

    public void SetRegistered(ulong start, ulong end, bool registered)
    {
        for (int i = Cut(start, end); i < _list.Count && _list[i].Start < end; i++)
            _list[i] = _list[i] with { Registered = registered };
        Join(start, end);
    }

    /// <summary>Splits the ranges holding start or end there; returns the index of the first range inside [start, end).</summary>
    private int Cut(ulong start, ulong end)
    {
        CutAt(start);
        CutAt(end);
        return FirstEndingAfter(start);
    }

    private void CutAt(ulong at)
    {
        int i = FirstEndingAfter(at);
        if (i >= _list.Count || _list[i].Start >= at)
            return;
        var r = _list[i];
        _list[i] = r with { End = at };
        _list.Insert(i + 1, r with { Start = at, FileOffset = r.FileOffset + (at - r.Start) });
    }

    /// <summary>Joins neighbours with the same state around [start, end], so mprotect churn does not grow the list.</summary>
    private void Join(ulong start, ulong end)
    {
        int i = Math.Max(0, FirstEndingAfter(start) - 1);
        while (i + 1 < _list.Count && _list[i].Start <= end)
        {
            if (_list[i].Continues(_list[i + 1]))
            {
                _list[i] = _list[i] with { End = _list[i + 1].End };
                _list.RemoveAt(i + 1);
            }
            else
                i++;
        }
    }

    /// <summary>The mapped parts of [start, end), adjacent ranges as one.</summary>
    public void ForEachMapped(ulong start, ulong end, Action<ulong, ulong> action)
    {
        ulong runStart = 0, runEnd = 0;
        for (int i = FirstEndingAfter(start); i < _list.Count && _list[i].Start < end; i++)
        {
            ulong s = Math.Max(start, _list[i].Start), e = Math.Min(end, _list[i].End);
            if (runEnd == s && runEnd != 0)
            {
                runEnd = e;
                continue;
            }
            if (runEnd != 0)
                action(runStart, runEnd);
            (runStart, runEnd) = (s, e);
        }
        if (runEnd != 0)
            action(runStart, runEnd);
    }
}
