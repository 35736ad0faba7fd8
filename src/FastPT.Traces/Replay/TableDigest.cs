namespace FastPT.Traces.Replay;

/// <summary>
/// FNV-1a (64-bit) over (space, va, level, value) of every non-zero leaf in walk order, all
/// little-endian: a stable fingerprint of final tables that two replays can compare.
/// </summary>
public struct TableDigest
{
    private const ulong Offset = 0xcbf29ce484222325, Prime = 0x100000001b3;
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

    public static ulong Of(IEnumerable<(int Space, IReplayTarget Target)> spaces)
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
}
