using System.Runtime.CompilerServices;

namespace FastPT.Uffd;

/// <summary>
/// The sorted VMAs as a gap buffer: a list whose free slots sit where the last insert or removal
/// was, so an edit moves only the VMAs between it and the previous edit. Processes change their
/// mappings in clusters (a JIT flips the protection of its code heap's pages over and over, an
/// allocator maps next to its last mapping); a plain list moved every VMA above each edit, half
/// the set on average (over a thousand references, with the GC's card marking, per mprotect).
/// The VMAs' ends are kept beside them in a plain array of the same layout, so the binary search
/// every operation starts with reads consecutive numbers instead of chasing a VMA per step.
/// </summary>
internal sealed class VmaList
{
    private Vma?[] _items = new Vma?[16];
    private ulong[] _ends = new ulong[16]; // _items[i].End, slot for slot
    private int _gapStart;        // first free slot
    private int _gapEnd = 16;     // first slot after the gap

    public int Count => _items.Length - (_gapEnd - _gapStart);

    public Vma this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)Count)
                ThrowIndex(index);
            return _items[index < _gapStart ? index : index + (_gapEnd - _gapStart)]!;
        }
    }

    /// <summary>Index of the first VMA whose end lies above va (Count if none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FirstEndingAfter(ulong va)
    {
        // The VMAs before the gap if one of them ends above va, else those after it.
        if (_gapStart > 0 && _ends[_gapStart - 1] > va)
            return FirstAbove(_ends, 0, _gapStart, va);
        return FirstAbove(_ends, _gapEnd, _ends.Length, va) - (_gapEnd - _gapStart);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int FirstAbove(ulong[] ends, int lo, int hi, ulong va)
    {
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] <= va)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    /// <summary>Moves the end of the VMA at index (split, merge): the only way an end changes in the list.</summary>
    public void SetEnd(int index, ulong end)
    {
        var v = this[index];
        v.End = end;
        _ends[index < _gapStart ? index : index + (_gapEnd - _gapStart)] = end;
    }

    public void Insert(int index, Vma vma)
    {
        if ((uint)index > (uint)Count)
            ThrowIndex(index);
        if (_gapStart == _gapEnd)
            Grow();
        MoveGap(index);
        _ends[_gapStart] = vma.End;
        _items[_gapStart++] = vma;
    }

    public void RemoveRange(int index, int count)
    {
        if ((uint)index > (uint)Count || (uint)count > (uint)(Count - index))
            ThrowIndex(index);
        MoveGap(index);
        for (int i = _gapEnd; i < _gapEnd + count; i++)
            _items[i] = null;
        _gapEnd += count;
    }

    /// <summary>Moves the gap so that it starts at index (only the VMAs in between move).</summary>
    private void MoveGap(int index)
    {
        int gap = _gapEnd - _gapStart;
        int n = Math.Abs(index - _gapStart);
        if (gap == 0)
        {
            // A full list has no gap to move (a removal's gap opens where it removes).
        }
        else if (n > 32)
        {
            // Far: one bulk move (a call into the runtime for the references' card marking).
            int from = index < _gapStart ? index : _gapEnd, to = index < _gapStart ? index + gap : _gapStart;
            _items.AsSpan(from, n).CopyTo(_items.AsSpan(to));
            _ends.AsSpan(from, n).CopyTo(_ends.AsSpan(to));
            _items.AsSpan(index < _gapStart ? index : Math.Max(_gapEnd, index), Math.Min(n, gap)).Clear();
        }
        else if (index < _gapStart)
        {
            // Near (the usual case): element by element costs less than that call.
            for (int from = _gapStart - 1; from >= index; from--)
            {
                _items[from + gap] = _items[from];
                _ends[from + gap] = _ends[from];
                _items[from] = null; // no stale references for the GC to keep alive
            }
        }
        else
        {
            for (int to = _gapStart; to < index; to++)
            {
                _items[to] = _items[to + gap];
                _ends[to] = _ends[to + gap];
                _items[to + gap] = null;
            }
        }
        _gapStart = index;
        _gapEnd = index + gap;
    }

    private void Grow()
    {
        var bigger = new Vma?[_items.Length * 2];
        var biggerEnds = new ulong[bigger.Length];
        int tail = _items.Length - _gapEnd;
        Array.Copy(_items, 0, bigger, 0, _gapStart);
        Array.Copy(_items, _gapEnd, bigger, bigger.Length - tail, tail);
        Array.Copy(_ends, 0, biggerEnds, 0, _gapStart);
        Array.Copy(_ends, _gapEnd, biggerEnds, bigger.Length - tail, tail);
        _gapEnd = bigger.Length - tail;
        _items = bigger;
        _ends = biggerEnds;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowIndex(int index) =>
        throw new ArgumentOutOfRangeException(nameof(index), index, $"outside the {Count} VMAs");
}
