using System.Diagnostics;
using FastPT.Traces.Operations;

namespace FastPT.Traces.Replay;

/// <summary>
/// Applies a stream of operations to one target per address space, in order. Operations are
/// buffered in chunks so the clock measures only the targets' work. With SnapshotEvery = N it
/// overlays a live-snapshot pattern (QEMU background snapshot, CRIU pre-dump): every N operations
/// it registers every region for uffd write-protect and write-protects it; a later store that
/// takes a wp fault is "copied" (counted) and resolved by unprotecting its page, then retried.
/// Without the overlay a wp fault is only counted: an engine-recorded trace carries its own resolve.
/// Dispose releases the targets (their tables are native memory) when a replay stops early.
/// </summary>
public sealed class Replayer : IDisposable
{
    private const int Chunk = 1 << 16;
    private readonly ReplayTargetFactory _factory;
    private readonly string _targetName;
    private readonly long _snapshotEvery;
    private readonly SortedDictionary<int, IReplayTarget> _spaces = [];
    private readonly HashSet<(int, ulong, ulong)> _registered = [];
    private readonly HashSet<(int, ulong)> _pages = [];
    private readonly List<TraceOperation> _buffer = new(Chunk);
    private readonly long[] _byKind = new long[Enum.GetValues<TraceOpKind>().Length];
    private long _ops, _ticks, _wpFaults, _segvs, _snapshots, _copies, _sinceSnapshot;

    public Replayer(ReplayTargetFactory factory, string targetName, long snapshotEvery = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(snapshotEvery);
        _factory = factory;
        _targetName = targetName;
        _snapshotEvery = snapshotEvery;
    }

    public long OperationsSeen => _ops + _buffer.Count;

    public void Add(TraceOperation op)
    {
        _byKind[(int)op.Kind]++;
        if (op.Kind == TraceOpKind.Access)
            _pages.Add((op.Space, op.Start >> 12));
        _buffer.Add(op);
        if (_buffer.Count == Chunk)
            Flush();
    }

    private void Flush()
    {
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < _buffer.Count; i++)
        {
            try
            {
                Apply(_buffer[i]);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                throw new ReplayException(_ops + i + 1, $"operation #{_ops + i + 1} ({_buffer[i]}) was refused by the {_targetName} target: {e.Message}", e);
            }
        }
        _ticks += Stopwatch.GetTimestamp() - t0;
        _ops += _buffer.Count;
        _buffer.Clear();
    }

    private IReplayTarget Space(TraceOperation op)
    {
        if (!_spaces.TryGetValue(op.Space, out IReplayTarget? t))
        {
            t = _factory(op.Space, op.Kind == TraceOpKind.SpaceCreated ? (TraceFeatures)op.Arg2 : TraceFeatures.None);
            _spaces.Add(op.Space, t);
        }
        return t;
    }

    private void Apply(TraceOperation op)
    {
        switch (op.Kind)
        {
            case TraceOpKind.SpaceCreated:
                Space(op);
                return;
            case TraceOpKind.SpaceDisposed:
                if (_spaces.Remove(op.Space, out IReplayTarget? gone))
                    gone.Dispose();
                _registered.RemoveWhere(r => r.Item1 == op.Space);
                return;
            case TraceOpKind.MapRegion: Space(op).MapRegion(op.Start, op.Length, (TraceRegionKind)op.Arg, (TraceProtection)op.Arg2); break;
            case TraceOpKind.Unmap:
                Space(op).Unmap(op.Start, op.Length);
                _registered.RemoveWhere(r => r.Item1 == op.Space && r.Item2 < op.End && r.Item2 + r.Item3 > op.Start);
                break;
            case TraceOpKind.Access: Access(Space(op), op); break;
            case TraceOpKind.Protect: Space(op).Protect(op.Start, op.Length, (TraceProtection)op.Arg); break;
            case TraceOpKind.Zap: Space(op).Zap(op.Start, op.Length); break;
            case TraceOpKind.RegisterWp: Space(op).RegisterWp(op.Start, op.Length, op.Arg); break;
            case TraceOpKind.WriteProtect: Space(op).WriteProtect(op.Start, op.Length, op.Arg != 0); break;
            case TraceOpKind.Unregister: Space(op).Unregister(op.Start, op.Length); break;
        }
        if (_snapshotEvery > 0 && ++_sinceSnapshot >= _snapshotEvery)
        {
            _sinceSnapshot = 0;
            Snapshot();
        }
    }

    private void Access(IReplayTarget t, TraceOperation op)
    {
        bool write = op.Arg != 0;
        switch (t.Access(op.Start, write))
        {
            case TraceAccessOutcome.Segv:
                _segvs++;
                return;
            case TraceAccessOutcome.WpFault:
                _wpFaults++;
                if (_snapshotEvery > 0)
                {
                    _copies++; // the snapshot saves the old contents of this page here
                    ulong page = op.Start & ~0xFFFUL;
                    t.WriteProtect(page, 0x1000, protect: false);
                    if (t.Access(op.Start, write) != TraceAccessOutcome.Completed)
                        throw new InvalidOperationException($"{op}: the access still faults after its page was unprotected.");
                }
                return;
        }
    }

    private void Snapshot()
    {
        _snapshots++;
        foreach (var (id, t) in _spaces)
        {
            foreach (var (start, length) in t.Regions.ToList())
            {
                if (_registered.Add((id, start, length)))
                    t.RegisterWp(start, length, 0);
                t.WriteProtect(start, length, protect: true);
            }
        }
    }

    /// <summary>The live address spaces by trace space id (for a caller that keeps them past <see cref="Finish(bool)"/>).</summary>
    public IReadOnlyDictionary<int, IReplayTarget> Targets => _spaces;

    public ReplayResult Finish() => Finish(keepTargets: false);

    /// <summary>Applies what is buffered and sums up; the targets stay open for <see cref="Targets"/> when asked (Dispose releases them).</summary>
    public ReplayResult Finish(bool keepTargets)
    {
        Flush();
        long tables = _spaces.Values.Sum(t => t.TablesInUse);
        ulong digest = TableDigest.Of(_spaces.Select(kv => (kv.Key, kv.Value)));
        var r = new ReplayResult(_targetName, _ops, (double)_ticks / Stopwatch.Frequency, _pages.Count, tables, digest,
            _spaces.Count, _wpFaults, _segvs, _snapshots, _copies,
            Enum.GetValues<TraceOpKind>().Where(k => _byKind[(int)k] > 0).ToDictionary(k => k.ToString(), k => _byKind[(int)k]));
        if (!keepTargets)
            Dispose();
        return r;
    }

    /// <summary>Disposes every target still open; Finish does this itself.</summary>
    public void Dispose()
    {
        foreach (IReplayTarget t in _spaces.Values)
            t.Dispose();
        _spaces.Clear();
        _buffer.Clear();
    }
}

/// <summary>An operation of the trace that the target refused: names the operation and why.</summary>
public sealed class ReplayException(long operationNumber, string message, Exception inner) : Exception(message, inner)
{
    /// <summary>The refused operation's position in the trace, from 1: operations before it were applied.</summary>
    public long OperationNumber { get; } = operationNumber;
}
