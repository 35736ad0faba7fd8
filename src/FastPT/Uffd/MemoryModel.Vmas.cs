using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace FastPT.Uffd;

/// <summary>
/// The VMA set (<see cref="VmaList"/>): sorted, disjoint, found by binary search; split and merged where an operation
/// changed it, never by a pass over every VMA (a JIT-heavy process has over a thousand, and
/// mprotects them thousands of times). Removed VMAs go to a free list, so the per-operation
/// paths allocate nothing once warm.
/// </summary>
public sealed partial class MemoryModel
{
    private readonly Stack<Vma> _spareVmas = new();
    private readonly Stack<ulong[]> _spareChunks = new(); // page-cache chunks of files no VMA maps any more

    /// <summary>The index <see cref="FindVma"/> found last: accesses come in runs inside one VMA.</summary>
    private int _findHint;

    /// <summary>The VMA containing va (binary search: VMAs are sorted and disjoint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Vma? FindVma(ulong va)
    {
        int h = _findHint;
        if ((uint)h < (uint)_vmas.Count)
        {
            var hinted = _vmas[h];
            if (hinted.Start <= va && va < hinted.End)
                return hinted;
        }
        int i = FirstEndingAfter(va);
        if (i < _vmas.Count && _vmas[i].Start <= va)
        {
            _findHint = i;
            return _vmas[i];
        }
        return null;
    }

    /// <summary>Index of the first VMA whose end lies above va (Count if none).</summary>
    private int FirstEndingAfter(ulong va) => _vmas.FirstEndingAfter(va);

    /// <summary>A VMA from the free list (or a new one) with every field set.</summary>
    private Vma NewVma(ulong start, ulong end, Backing backing, MemoryProtection protection, bool hugePageHint, ShmemFile? file, bool account)
    {
        var v = _spareVmas.Count > 0 ? _spareVmas.Pop() : new Vma();
        v.Start = start;
        v.End = end;
        v.Backing = backing;
        v.Protection = protection;
        v.UffdWp = false;
        v.HugePageHint = hugePageHint;
        v.File = file;
        file?.AddMapping();
        v.Account = account;
        v.AnonVma = 0;
        v.PageOffset = 0;
        return v;
    }

    /// <summary>Takes the VMAs [index, index + count) out of the set onto the free list.</summary>
    private void RemoveVmas(int index, int count)
    {
        for (int i = index; i < index + count; i++)
        {
            var v = _vmas[i];
            v.File?.RemoveMapping(); // the page cache goes with its last mapping
            v.File = null;
            _spareVmas.Push(v);
        }
        _vmas.RemoveRange(index, count);
    }

    /// <summary>__split_vma: the VMA with cut strictly inside becomes [start, cut) (same object) and [cut, end) (a copy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SplitAt(ulong cut)
    {
        int i = FirstEndingAfter(cut);
        if (i >= _vmas.Count || _vmas[i].Start >= cut)
            return;
        var v = _vmas[i];
        var tail = NewVma(cut, v.End, v.Backing, v.Protection, v.HugePageHint, v.File, v.Account);
        tail.UffdWp = v.UffdWp;
        tail.AnonVma = v.AnonVma;
        tail.PageOffset = v.File is null ? 0 : v.FilePage(cut);
        _vmas.SetEnd(i, cut);
        _vmas.Insert(i + 1, tail);
    }

    /// <summary>Splits VMAs so that start and end are VMA boundaries; returns the index of the first VMA inside.</summary>
    private int Split(ulong start, ulong end)
    {
        SplitAt(start);
        SplitAt(end);
        return FirstEndingAfter(start);
    }

    /// <summary>
    /// vma_merge after an operation changed the VMAs between lo and hi (mmap too:
    /// vma_merge_new_range joins a new mapping to its neighbours at once): every chain of
    /// mergeable neighbours with a boundary in [lo, hi], merged left to right. The same result as
    /// a left-to-right pass over every VMA: elsewhere no two neighbours can merge (each operation
    /// that changes a VMA merges around it), and a merge never makes a pair that could not merge
    /// mergeable.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Merge(ulong lo, ulong hi)
    {
        // The first VMA ending at or after lo: a chain cannot reach further left, as the VMA
        // before it is as the last merge left it, and that merge left no mergeable pair.
        int i = lo == 0 ? 0 : FirstEndingAfter(lo - 1);
        Debug.Assert(i == 0 || i >= _vmas.Count || !_vmas[i - 1].CanMergeWith(_vmas[i]), "a mergeable pair left of an operation's range");
        while (i + 1 < _vmas.Count)
        {
            var v = _vmas[i];
            var next = _vmas[i + 1];
            if (v.CanMergeWith(next))
            {
                _vmas.SetEnd(i, next.End);
                if (v.AnonVma == 0)
                    v.AnonVma = next.AnonVma; // dup_anon_vma
                RemoveVmas(i + 1, 1);
            }
            else if (v.End >= hi)
                return;
            else
                i++;
        }
    }
}
