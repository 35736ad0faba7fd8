using System.Runtime.CompilerServices;

namespace FastPT.Uffd;

/// <summary>
/// The sorted VMAs as a gap buffer: a list whose free slots sit where the last insert or removal
/// was, so an edit moves only the VMAs between it and the previous edit. Processes change their
/// mappings in clusters (a JIT flips the protection of its code heap's pages over and over, an
/// allocator maps next to its last mapping); a plain list moved every VMA above each edit, half
/// the set on average (over a thousand references, with the GC's card marking, per mprotect).
/// The VMAs' ends are kept beside them in a plain array of the same layout, so the binary search
/// every operation starts with reads consecutive numbers instead of chasing a VMA per step. The
/// buffer holds numbers only (each VMA's end and its index in a pool of VMA references): moving
/// references costs the GC's card marking and clearing the slots they leave, numbers move as memory.
/// </summary>
internal sealed class VmaList
{
    private int[] _ids = new int[16];      // the VMA in each slot, as its index in _pool
    private ulong[] _ends = new ulong[16]; // that VMA's End, slot for slot
    private int _gapStart;                 // first free slot
    private int _gapEnd = 16;              // first slot after the gap
    private Vma?[] _pool = new Vma?[16];   // the VMAs; a free entry is null and its index is in _free
    private int[] _free = new int[16];
    private int _freeCount;
    private int _poolUsed;                 // entries of _pool ever handed out
    private int _lastAnswer;               // what FirstEndingAfter returned last (a guess: edits move it)

    public int Count => _ids.Length - (_gapEnd - _gapStart);

    public Vma this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)index >= (uint)Count)
                ThrowIndex(index);
            return _pool[_ids[Slot(index)]]!;
        }
    }

    /// <summary>Index of the first VMA whose end lies above va (Count if none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FirstEndingAfter(ulong va)
    {
        // One verb asks several times about the same VMA or its neighbour (its range check, each
        // split, the merge after it): try the last answer and the one after it before searching.
        int g = _lastAnswer;
        if (IsFirstEndingAfter(g, va))
            return g;
        if (IsFirstEndingAfter(g + 1, va))
            return _lastAnswer = g + 1;
        return _lastAnswer = Search(va);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsFirstEndingAfter(int index, ulong va) =>
        (uint)index < (uint)Count && EndAt(index) > va && (index == 0 || EndAt(index - 1) <= va);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong EndAt(int index) => _ends[Slot(index)];

    /// <summary>The buffer slot of the VMA at index (the ones after the gap sit past it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(int index) => index < _gapStart ? index : index + (_gapEnd - _gapStart);

    private int Search(ulong va)
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
        _ends[Slot(index)] = end;
    }

    public void Insert(int index, Vma vma)
    {
        if ((uint)index > (uint)Count)
            ThrowIndex(index);
        if (_gapStart == _gapEnd)
            Grow();
        MoveGap(index);
        int id = _freeCount > 0 ? _free[--_freeCount] : NewId();
        _pool[id] = vma;
        _ends[_gapStart] = vma.End;
        _ids[_gapStart++] = id;
    }

    private int NewId()
    {
        if (_poolUsed == _pool.Length)
            Array.Resize(ref _pool, _pool.Length * 2);
        return _poolUsed++;
    }

    public void RemoveRange(int index, int count)
    {
        if ((uint)index > (uint)Count || (uint)count > (uint)(Count - index))
            ThrowIndex(index);
        MoveGap(index);
        if (_free.Length < _freeCount + count)
            Array.Resize(ref _free, Math.Max(_free.Length * 2, _freeCount + count));
        for (int i = _gapEnd; i < _gapEnd + count; i++)
        {
            _pool[_ids[i]] = null; // no stale reference for the GC to keep alive
            _free[_freeCount++] = _ids[i];
        }
        _gapEnd += count;
    }

    /// <summary>Moves the gap so that it starts at index (only the VMAs in between move).</summary>
    private void MoveGap(int index)
    {
        int gap = _gapEnd - _gapStart;
        int n = Math.Abs(index - _gapStart);
        if (gap == 0 || n == 0)
        {
            // Nothing to move: the gap is there already, or the list is full (a removal's gap opens where it removes).
        }
        else if (n > 16)
        {
            // Far: one block move each.
            int from = index < _gapStart ? index : _gapEnd, to = index < _gapStart ? index + gap : _gapStart;
            _ids.AsSpan(from, n).CopyTo(_ids.AsSpan(to));
            _ends.AsSpan(from, n).CopyTo(_ends.AsSpan(to));
        }
        else if (index < _gapStart)
        {
            // Near (the usual case): element by element costs less than a call.
            for (int from = _gapStart - 1; from >= index; from--)
            {
                _ids[from + gap] = _ids[from];
                _ends[from + gap] = _ends[from];
            }
        }
        else
        {
            for (int to = _gapStart; to < index; to++)
            {
                _ids[to] = _ids[to + gap];
                _ends[to] = _ends[to + gap];
            }
        }
        _gapStart = index;
        _gapEnd = index + gap;
    }

    private void Grow()
    {
        int length = _ids.Length * 2, tail = _ids.Length - _gapEnd;
        var ids = new int[length];
        var ends = new ulong[length];
        Array.Copy(_ids, 0, ids, 0, _gapStart);
        Array.Copy(_ids, _gapEnd, ids, length - tail, tail);
        Array.Copy(_ends, 0, ends, 0, _gapStart);
        Array.Copy(_ends, _gapEnd, ends, length - tail, tail);
        _gapEnd = length - tail;
        _ids = ids;
        _ends = ends;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowIndex(int index) =>
        throw new ArgumentOutOfRangeException(nameof(index), index, $"outside the {Count} VMAs");
}
