using FastPT.Uffd;

namespace FastPT.Traces.Replay;

/// <summary>
/// FNV-1a (64-bit) over little-endian 64-bit words: a stable fingerprint of a replay's final
/// state that two replays can compare. <see cref="Of"/>: (space, then va, level, value of every
/// non-zero leaf in walk order) of a target's own tables. <see cref="OfPagemap"/>: (space, then
/// va and the pagemap bits present, swap, uffd-wp, file and mmap-exclusive of every page the trace touched),
/// which the engine and the live kernel both report.
/// </summary>
public struct TableDigest
{
    private const ulong Offset = 0xcbf29ce484222325, Prime = 0x100000001b3;

    /// <summary>The pagemap bits <see cref="OfPagemap"/> keeps (frame numbers differ between the engine and the kernel).</summary>
    public const ulong PagemapState = PagemapBits.Present | PagemapBits.Swap | PagemapBits.UffdWp | PagemapBits.File | PagemapBits.MmapExclusive;

    private ulong _h;

    public TableDigest() => _h = Offset;

    public readonly ulong Value => _h;

    public void Add(ulong v)
    {
        for (int i = 0; i < 8; i++)
        {
            _h ^= (byte)(v >> (i * 8));
            _h *= Prime;
        }
    }

    public static ulong Of(IEnumerable<(int Space, ITablesTarget Target)> spaces)
    {
        var d = new TableDigest();
        foreach (var (space, target) in spaces.OrderBy(s => s.Space))
        {
            d.Add((ulong)space);
            target.VisitLeaves((va, level, value) =>
            {
                d.Add(va);
                d.Add((ulong)level);
                d.Add(value);
            });
        }
        return d.Value;
    }

    /// <param name="pages">(space, page number) of the pages to include; those of other spaces are skipped.</param>
    public static ulong OfPagemap(IEnumerable<(int Space, IReplayTarget Target)> spaces, IEnumerable<(int Space, ulong Page)> pages)
    {
        var bySpace = pages.GroupBy(p => p.Space).ToDictionary(g => g.Key, g => g.Select(p => p.Page).Order().ToList());
        var d = new TableDigest();
        foreach (var (space, target) in spaces.OrderBy(s => s.Space))
        {
            d.Add((ulong)space);
            foreach (ulong page in bySpace.GetValueOrDefault(space) ?? [])
            {
                d.Add(page << 12);
                d.Add(target.Pagemap(page << 12) & PagemapState);
            }
        }
        return d.Value;
    }
}
