using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Kernels;

namespace FastPT.Operations;

/// <summary>
/// The pages whose PTEs a scan last read without finding them WRITTEN, and that nothing has
/// changed since: per PTE table (2 MiB range) a 512-bit mask. Only an owner that makes every
/// change to its tables can keep one (the Linux model: each verb and fault forgets the pages it
/// touches); a scan that requires WRITTEN then reads only the other entries of a table (none,
/// on dirty tracking's idle rescan; on a rescan the pages written since, one by one, instead of
/// all 512). A forgotten page only costs a read; a page remembered after a change would lose a
/// written page, so owners forget first. A remembered page always has a PTE, and not an empty
/// one (an empty entry is WRITTEN): filling empty entries or changing a huge leaf changes no
/// remembered page.
/// </summary>
internal sealed class UnwrittenPages
{
    private const int Shift = 21;
    private const int Words = 512 / 64;
    private readonly Dictionary<ulong, int> _tables = new(); // 2 MiB range -> its mask's slot in _bits
    private ulong[] _bits = new ulong[16 * Words];
    private ulong[] _tableOf = new ulong[16]; // slot -> its 2 MiB range + 1 (0: free)
    private int[] _free = new int[16];
    private int _freeCount, _slots, _lastFound = -1;

    /// <summary>How many pages are remembered (tests and diagnostics; visits every table).</summary>
    public long Count
    {
        get
        {
            long n = 0;
            foreach (int slot in _tables.Values)
                for (int w = 0; w < Words; w++)
                    n += BitOperations.PopCount(_bits[slot * Words + w]);
            return n;
        }
    }

    /// <summary>Every remembered page, by address (tests and diagnostics).</summary>
    public IEnumerable<ulong> Pages()
    {
        foreach (var (table, slot) in _tables)
            for (int i = 0; i < 512; i++)
                if ((_bits[slot * Words + (i >> 6)] & (1UL << (i & 63))) != 0)
                    yield return (table << Shift) + ((ulong)i << 12);
    }

    /// <summary>The slot of the mask of the PTE table mapping va, or -1 when none of its pages is known.</summary>
    public int Find(ulong va)
    {
        if (_tables.Count == 0)
            return -1;
        // A scan walks tables in address order, and its first pass made their slots in that
        // order: the slot after the last one found is usually the one, checked without hashing.
        ulong table = va >> Shift;
        int next = _lastFound + 1;
        if ((uint)next < (uint)_slots && _tableOf[next] == table + 1)
            return _lastFound = next;
        return _tables.TryGetValue(table, out int slot) ? _lastFound = slot : -1;
    }

    /// <summary>
    /// The mask in <paramref name="slot"/> (from <see cref="Find"/>; bit i: page i of the table
    /// is known unwritten), or an empty span for -1.
    /// </summary>
    public ReadOnlySpan<ulong> Known(int slot) => slot < 0 ? default : _bits.AsSpan(slot * Words, Words);

    /// <summary>
    /// A scan read the <paramref name="pages"/> entries from va (inside one PTE table) and left
    /// none WRITTEN. <paramref name="slot"/>: the table's slot if <see cref="Find"/> gave one and
    /// nothing was forgotten since (saves a lookup), else -1.
    /// </summary>
    public void Add(ulong va, int pages, int slot = -1)
    {
        if (slot < 0 && !_tables.TryGetValue(va >> Shift, out slot))
        {
            _tables.Add(va >> Shift, slot = NewSlot());
            _tableOf[slot] = (va >> Shift) + 1;
        }
        var known = _bits.AsSpan(slot * Words, Words);
        if (pages == 512)
            known.Fill(ulong.MaxValue); // a whole table: a rescan's usual run
        else
            KernelBits.SetRange(known, (int)((va >> 12) & 511), (int)((va >> 12) & 511) + pages);
    }

    /// <summary>The entries mapping [start, end) may change.</summary>
    public void Forget(ulong start, ulong end)
    {
        if (_tables.Count == 0 || end <= start)
            return;
        ulong first = start >> Shift, last = (end - 1) >> Shift;
        if (last - first >= (ulong)_tables.Count)
        {
            // A range over more tables than are remembered: visit the remembered ones (removing
            // while enumerating is allowed for Dictionary).
            foreach (var (table, slot) in _tables)
                if (table >= first && table <= last)
                    Forget(table, slot, start, end);
            return;
        }
        for (ulong table = first; table <= last; table++)
            if (_tables.TryGetValue(table, out int slot))
                Forget(table, slot, start, end);
    }

    private void Forget(ulong table, int slot, ulong start, ulong end)
    {
        ulong tableStart = table << Shift;
        int from = start <= tableStart ? 0 : (int)((start - tableStart) >> 12);
        int to = end - tableStart >= 1UL << Shift ? 512 : (int)((end - tableStart + 4095) >> 12);
        var mask = _bits.AsSpan(slot * Words, Words);
        if (from == 0 && to == 512)
        {
            Remove(table, slot);
            return;
        }
        KernelBits.ClearRange(mask, from, to);
        foreach (ulong w in mask)
            if (w != 0)
                return;
        Remove(table, slot);
    }

    private void Remove(ulong table, int slot)
    {
        _tables.Remove(table);
        _tableOf[slot] = 0;
        _bits.AsSpan(slot * Words, Words).Clear();
        if (_freeCount == _free.Length)
            Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = slot;
    }

    private int NewSlot()
    {
        if (_freeCount != 0)
            return _free[--_freeCount];
        if ((_slots + 1) * Words > _bits.Length)
        {
            Array.Resize(ref _bits, _bits.Length * 2);
            Array.Resize(ref _tableOf, _tableOf.Length * 2);
        }
        return _slots++;
    }

    /// <summary>
    /// Whether a scan with these params finds a WRITTEN page in a run exactly when it keeps
    /// one (so entries it did not keep are not WRITTEN): the request requires WRITTEN and nothing
    /// else a PTE could lack, excludes nothing, and any any-of set includes WRITTEN.
    /// </summary>
    public static bool KeepsExactlyWritten(in ScanParams p)
    {
        var required = p.Mask & ~p.Inverted;
        return RequiresWritten(p)
            && (required & ~(PageCategories.Written | p.VmaCategories)) == 0
            && (p.Mask & p.Inverted) == 0
            && (p.AnyOf == PageCategories.None || (p.AnyOf & PageCategories.Written) != 0);
    }

    /// <summary>Whether every page a scan with these params keeps is WRITTEN (so it need not read pages known to be unwritten).</summary>
    public static bool RequiresWritten(in ScanParams p) => (p.Mask & ~p.Inverted & PageCategories.Written) != 0;
}
