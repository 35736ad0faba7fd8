using FastPT.Traces.Operations;

namespace FastPT.Traces.Replay;

/// <summary>
/// A small, independent model of one mm for replay before (and beside) the engine: VMAs with
/// kind/protection/uffd-wp registration, and one x86-64 leaf value per 4 KiB page in a sorted
/// dictionary. Values follow Linux's shapes (PAGE_SHARED/READONLY bits, A/D, _PAGE_UFFD_WP bit 10,
/// the uffd-wp PTE marker, a read fault on anonymous memory mapping the shared zero page), but it
/// is not the engine and is not checked against the kernel: its digests name it ("reference").
/// Frames are numbered in fault order, so replays are deterministic.
/// </summary>
public sealed class ReferenceTarget : IReplayTarget
{
    private const ulong P = 0x1, Rw = 0x2, User = 0x4, A = 0x20, D = 0x40, ProtNone = 0x100, UffdWp = 0x400;
    private const ulong Nx = 1UL << 63;
    private const ulong Marker = 0xFFFF_FFFF_FFFF_FC00;
    private const ulong ZeroFrame = 0x1;
    private const int RegisterUnpopulated = 1;

    private readonly SortedDictionary<ulong, ulong> _ptes = [];
    private readonly List<Vma> _vmas = [];
    private ulong _nextFrame = 0x100;

    private sealed record Vma(ulong Start, ulong End, TraceRegionKind Kind, TraceProtection Prot, bool Wp, bool Unpopulated);

    public long TablesInUse
    {
        get
        {
            var pte = new HashSet<ulong>();
            var pmd = new HashSet<ulong>();
            var pud = new HashSet<ulong>();
            foreach (ulong va in _ptes.Keys)
            {
                pte.Add(va >> 21);
                pmd.Add(va >> 30);
                pud.Add(va >> 39);
            }
            return 1 + pud.Count + pmd.Count + pte.Count;
        }
    }

    public IEnumerable<(ulong Start, ulong Length)> Regions => _vmas.Select(v => (v.Start, v.End - v.Start));

    public void VisitLeaves(Action<ulong, int, ulong> visit)
    {
        foreach (var (va, v) in _ptes)
            visit(va, 1, v);
    }

    public void Dispose() => _ptes.Clear();

    public void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection)
    {
        Unmap(start, length);
        _vmas.Add(new Vma(start, start + length, kind, protection, false, false));
        _vmas.Sort((x, y) => x.Start.CompareTo(y.Start));
    }

    public void Unmap(ulong start, ulong length)
    {
        Split(start, start + length, v => null);
        RemovePtes(start, start + length);
    }

    public void Protect(ulong start, ulong length, TraceProtection protection)
    {
        Split(start, start + length, v => v with { Prot = protection });
        foreach (ulong va in Keys(start, start + length))
        {
            ulong e = _ptes[va];
            if (e == Marker)
                continue;
            e &= ~(Rw | P | ProtNone);
            e |= protection == TraceProtection.None ? ProtNone : P;
            // Writable again only where the page is dirty and not uffd-wp (else the next write faults).
            if (protection == TraceProtection.ReadWrite && (e & (D | UffdWp)) == D)
                e |= Rw;
            _ptes[va] = e;
        }
    }

    public void Zap(ulong start, ulong length)
    {
        foreach (ulong va in Keys(start, start + length))
        {
            Vma? v = Find(va);
            bool keepMarker = v is { Wp: true } && ((_ptes[va] & UffdWp) != 0 || _ptes[va] == Marker) && v.Kind == TraceRegionKind.File;
            if (keepMarker)
                _ptes[va] = Marker;
            else
                _ptes.Remove(va);
        }
    }

    public void RegisterWp(ulong start, ulong length, int flags) =>
        Split(start, start + length, v => v with { Wp = true, Unpopulated = (flags & RegisterUnpopulated) != 0 });

    public void Unregister(ulong start, ulong length)
    {
        Split(start, start + length, v => v with { Wp = false, Unpopulated = false });
        foreach (ulong va in Keys(start, start + length))
        {
            ulong e = _ptes[va];
            if (e == Marker)
                _ptes.Remove(va);
            else
                _ptes[va] = e & ~UffdWp;
        }
    }

    public void WriteProtect(ulong start, ulong length, bool protect)
    {
        ulong end = start + length;
        if (protect)
        {
            foreach (Vma v in _vmas.ToArray())
            {
                if (v.End <= start || v.Start >= end || !v.Wp)
                    continue;
                ulong s = Math.Max(v.Start, start), e = Math.Min(v.End, end);
                bool markers = v.Kind == TraceRegionKind.File || v.Unpopulated;
                for (ulong va = s; va < e; va += 0x1000)
                {
                    if (_ptes.TryGetValue(va, out ulong x))
                        _ptes[va] = x == Marker ? x : (x | UffdWp) & ~Rw;
                    else if (markers)
                        _ptes[va] = Marker;
                }
            }
        }
        else
        {
            foreach (ulong va in Keys(start, end))
            {
                ulong x = _ptes[va];
                if (x == Marker)
                    _ptes.Remove(va);
                else
                    _ptes[va] = x & ~UffdWp; // RW comes back on the next write fault, as in Linux
            }
        }
    }

    public TraceAccessOutcome Access(ulong address, bool write)
    {
        ulong va = address & ~0xFFFUL;
        Vma? v = Find(va);
        if (v is null || v.Prot == TraceProtection.None || (write && v.Prot != TraceProtection.ReadWrite))
            return TraceAccessOutcome.Segv;
        bool has = _ptes.TryGetValue(va, out ulong e);
        if (has && e == Marker)
        {
            if (write)
                return TraceAccessOutcome.WpFault;
            _ptes[va] = Populate(v, write: false) | UffdWp;
            return TraceAccessOutcome.Completed;
        }
        if (!has)
        {
            _ptes[va] = Populate(v, write);
            return TraceAccessOutcome.Completed;
        }
        if (!write)
        {
            _ptes[va] = e | A;
            return TraceAccessOutcome.Completed;
        }
        if ((e & UffdWp) != 0)
            return TraceAccessOutcome.WpFault;
        if ((e & Rw) == 0)
        {
            // Copy-on-write of the zero page, or write access regained after protection.
            ulong frame = (e >> 12 & 0xFF_FFFF_FFFF) == ZeroFrame ? NewFrame() : e >> 12 & 0xFF_FFFF_FFFF;
            e = (e & ~(0xFF_FFFF_FFFFUL << 12)) | frame << 12;
        }
        _ptes[va] = e | Rw | A | D;
        return TraceAccessOutcome.Completed;
    }

    private ulong Populate(Vma v, bool write)
    {
        ulong prot = P | User | A | (v.Prot == TraceProtection.ReadWrite ? Nx : 0);
        if (write)
            return prot | Rw | D | NewFrame() << 12;
        // Anonymous read faults map the shared zero page read-only; file pages come from the page cache.
        return v.Kind == TraceRegionKind.Anon ? prot | ZeroFrame << 12 : prot | NewFrame() << 12;
    }

    private ulong NewFrame() => _nextFrame++;

    private Vma? Find(ulong va)
    {
        foreach (Vma v in _vmas)
        {
            if (va >= v.Start && va < v.End)
                return v;
        }
        return null;
    }

    private List<ulong> Keys(ulong start, ulong end)
    {
        var keys = new List<ulong>();
        foreach (ulong k in _ptes.Keys)
        {
            if (k >= end)
                break;
            if (k >= start)
                keys.Add(k);
        }
        return keys;
    }

    private void RemovePtes(ulong start, ulong end)
    {
        foreach (ulong k in Keys(start, end))
            _ptes.Remove(k);
    }

    /// <summary>Applies <paramref name="change"/> to the part of each VMA inside [start, end); null removes it.</summary>
    private void Split(ulong start, ulong end, Func<Vma, Vma?> change)
    {
        for (int i = _vmas.Count - 1; i >= 0; i--)
        {
            Vma v = _vmas[i];
            if (v.End <= start || v.Start >= end)
                continue;
            _vmas.RemoveAt(i);
            if (v.Start < start)
                _vmas.Add(v with { End = start });
            if (v.End > end)
                _vmas.Add(v with { Start = end });
            if (change(v with { Start = Math.Max(v.Start, start), End = Math.Min(v.End, end) }) is { } mid)
                _vmas.Add(mid);
        }
        _vmas.Sort((x, y) => x.Start.CompareTo(y.Start));
    }
}
