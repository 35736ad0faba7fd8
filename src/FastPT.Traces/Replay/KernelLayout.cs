using FastPT.Traces.Operations;

namespace FastPT.Traces.Replay;

/// <summary>
/// Where one traced address space goes in this process for the kernel target. The 1 GiB blocks
/// its operations touch are grouped into runs of adjacent blocks; each run keeps its offsets
/// inside a 1 GiB-aligned stretch of one reservation, so its mappings split into PTE and PMD
/// tables exactly as they did in the traced process, and 1 GiB of reservation lies between two
/// runs, so mappings that were far apart never meet.
/// </summary>
public sealed class KernelLayout
{
    private const int BlockShift = 30;
    private const ulong Block = 1UL << BlockShift;

    /// <summary>The most one space may reserve (this process's own mappings need the rest of the 128 TiB).</summary>
    public const ulong MaxReservation = 16UL << 40;

    private readonly ulong[] _runStart, _runEnd, _runOffset;

    private KernelLayout(List<(ulong Start, ulong End)> runs, ulong fileBytes)
    {
        _runStart = new ulong[runs.Count];
        _runEnd = new ulong[runs.Count];
        _runOffset = new ulong[runs.Count];
        ulong at = 0;
        for (int i = 0; i < runs.Count; i++)
        {
            _runStart[i] = runs[i].Start;
            _runEnd[i] = runs[i].End;
            _runOffset[i] = at;
            at += runs[i].End - runs[i].Start + Block;
        }
        ReservationBytes = Math.Max(at, Block);
        FileBytes = fileBytes;
    }

    /// <summary>The layout of a space whose operations touch no memory.</summary>
    public static KernelLayout Empty { get; } = new([], 0);

    /// <summary>Bytes of address space the space reserves (1 GiB-aligned).</summary>
    public ulong ReservationBytes { get; }

    /// <summary>Size of the memfd behind the space's file mappings: every mapping gets its own offsets.</summary>
    public ulong FileBytes { get; }

    /// <summary>Runs of adjacent 1 GiB blocks.</summary>
    public int Runs => _runStart.Length;

    /// <summary>The offset in the reservation of traced address va; [va, va + length) must lie in one run.</summary>
    public ulong Offset(ulong va, ulong length)
    {
        int lo = 0, hi = _runEnd.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_runEnd[mid] <= va)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == _runEnd.Length || _runStart[lo] > va || va + length > _runEnd[lo] || va + length < va)
            throw new InvalidOperationException($"0x{va:X}+0x{length:X} is outside the kernel layout of this space (the layout is made from the whole trace; was it made from another one?)");
        return _runOffset[lo] + (va - _runStart[lo]);
    }

    /// <summary>The layout of every space in a trace, from all its operations.</summary>
    public static Dictionary<int, KernelLayout> Of(IReadOnlyList<TraceOperation> operations)
    {
        var blocks = new Dictionary<int, List<(ulong, ulong)>>();
        var files = new Dictionary<int, ulong>();
        foreach (var op in operations)
        {
            if (op.Kind is TraceOpKind.SpaceCreated or TraceOpKind.SpaceDisposed || op.Length == 0)
                continue;
            ulong end = op.Kind == TraceOpKind.Access ? (op.Start & ~4095UL) + 4096 : op.End;
            if (end <= op.Start)
                throw new ArgumentException($"{op}: the range wraps around the address space");
            if (!blocks.TryGetValue(op.Space, out var list))
                blocks[op.Space] = list = [];
            list.Add((op.Start >> BlockShift, ((end - 1) >> BlockShift) + 1));
            if (op.Kind == TraceOpKind.MapRegion && (TraceRegionKind)op.Arg == TraceRegionKind.File)
                files[op.Space] = files.GetValueOrDefault(op.Space) + FileSlot(op.Length);
        }
        var layouts = new Dictionary<int, KernelLayout>();
        foreach (var (space, list) in blocks)
        {
            list.Sort();
            var runs = new List<(ulong Start, ulong End)>();
            foreach (var (b0, b1) in list)
            {
                if (runs.Count > 0 && b0 <= runs[^1].End >> BlockShift)
                    runs[^1] = (runs[^1].Start, Math.Max(runs[^1].End, b1 << BlockShift));
                else
                    runs.Add((b0 << BlockShift, b1 << BlockShift));
            }
            var layout = new KernelLayout(runs, files.GetValueOrDefault(space));
            if (layout.ReservationBytes > MaxReservation)
                throw new ArgumentException($"space {space} spans {layout.ReservationBytes >> 30} GiB in {runs.Count} runs of 1 GiB blocks; the kernel target reserves at most {MaxReservation >> 40} TiB per space");
            layouts[space] = layout;
        }
        return layouts;
    }

    /// <summary>File offsets one file mapping of length bytes takes: 2 MiB-aligned, with room to keep the address's 2 MiB offset.</summary>
    internal static ulong FileSlot(ulong length) => ((length + (2UL << 20) - 1) & ~((2UL << 20) - 1)) + (2UL << 20);
}
