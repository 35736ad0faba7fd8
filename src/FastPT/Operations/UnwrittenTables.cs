using FastPT.Kernels;

namespace FastPT.Operations;

/// <summary>
/// The PTE tables (by 2 MiB range) that a scan last read whole without finding a WRITTEN
/// page, and that nothing has changed since. Only an owner that makes every change to its
/// tables can keep one (the Linux model: each verb and fault forgets the ranges it touches);
/// a scan that requires WRITTEN then skips those tables instead of reading 512 entries, which
/// makes dirty tracking's idle rescan one lookup per table. A forgotten range only costs a
/// read; a range remembered after a change would lose written pages, so owners forget first.
/// </summary>
internal sealed class UnwrittenTables
{
    private const int Shift = 21;
    private readonly HashSet<ulong> _ranges = new();

    public int Count => _ranges.Count;

    /// <summary>Whether the PTE table mapping va is known to hold no WRITTEN page.</summary>
    public bool Contains(ulong va) => _ranges.Count != 0 && _ranges.Contains(va >> Shift);

    /// <summary>A scan read the whole table mapping va and found no WRITTEN page.</summary>
    public void Add(ulong va) => _ranges.Add(va >> Shift);

    /// <summary>The tables mapping [start, end) may change.</summary>
    public void Forget(ulong start, ulong end)
    {
        if (_ranges.Count == 0 || end <= start)
            return;
        ulong first = start >> Shift, last = (end - 1) >> Shift;
        if (last - first >= (ulong)_ranges.Count)
        {
            _ranges.Clear(); // cheaper than visiting every range; forgetting more only costs reads
            return;
        }
        for (ulong r = first; r <= last; r++)
            _ranges.Remove(r);
    }

    /// <summary>
    /// Whether a scan with these params finds a WRITTEN page in a table exactly when it keeps
    /// one (so a table that kept nothing holds none): the request requires WRITTEN and nothing
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

    /// <summary>Whether every page a scan with these params keeps is WRITTEN (so it may skip tables known to hold none).</summary>
    public static bool RequiresWritten(in ScanParams p) => (p.Mask & ~p.Inverted & PageCategories.Written) != 0;
}
