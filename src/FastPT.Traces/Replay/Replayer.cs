using System.Diagnostics;
using FastPT.Linux;
using FastPT.Traces.Operations;
using FastPT.Traces.Perf;

namespace FastPT.Traces.Replay;

/// <summary>
/// Applies a trace's operations to one target per address space, in order, and times only
/// that loop (the operations are in memory: reading the file is not timed). With SnapshotEvery
/// = N it overlays a live-snapshot pattern (QEMU background snapshot, CRIU pre-dump): every N
/// operations it registers every region for uffd write-protect and write-protects it; a later
/// store that takes a wp fault is "copied" (counted) and resolved by unprotecting its page,
/// then retried. Without the overlay a wp fault is only counted: an engine-recorded trace
/// carries its own resolve. A replayer runs once (fresh targets each pass); Dispose releases
/// the targets (their tables or reservations) when a replay stops early.
/// </summary>
public sealed class Replayer : IDisposable
{
    private readonly ReplayTargetFactory _factory;
    private readonly string _targetName;
    private readonly long _snapshotEvery;
    private readonly Dictionary<int, IReplayTarget> _spaces = [];
    // The overlay's view (with SnapshotEvery only): what each space mapped, and what it registered.
    private readonly Dictionary<int, RegionMap> _mapped = [];
    private readonly HashSet<(int, ulong, ulong)> _registered = [];
    private IReadOnlyList<TraceOperation> _ops = [];
    private int _lastSpace;
    private IReplayTarget? _last;
    private long _ticks, _wpFaults, _segvs, _snapshots, _copies, _sinceSnapshot;
    private bool _ran;

    public Replayer(ReplayTargetFactory factory, string targetName, long snapshotEvery = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(snapshotEvery);
        _factory = factory;
        _targetName = targetName;
        _snapshotEvery = snapshotEvery;
    }

    /// <summary>Time spent applying the operations, in seconds.</summary>
    public double Seconds => (double)_ticks / Stopwatch.Frequency;

    /// <summary>Applies every operation in order; an operation a target refuses stops the replay with a <see cref="ReplayException"/>.</summary>
    public void Run(IReadOnlyList<TraceOperation> operations)
    {
        if (_ran)
            throw new InvalidOperationException("a Replayer runs once: make a new one (with fresh targets) for the next pass");
        _ran = true;
        _ops = operations;
        long t0 = Stopwatch.GetTimestamp();
        try
        {
            for (int i = 0; i < operations.Count; i++)
            {
                try
                {
                    Apply(operations[i]);
                }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException or SyscallException)
                {
                    throw new ReplayException(i + 1, $"operation #{i + 1} ({operations[i]}) was refused by the {_targetName} target: {e.Message}", e);
                }
            }
        }
        finally
        {
            _ticks = Stopwatch.GetTimestamp() - t0;
        }
    }

    private IReplayTarget Space(in TraceOperation op)
    {
        if (_last is not null && _lastSpace == op.Space)
            return _last;
        if (!_spaces.TryGetValue(op.Space, out IReplayTarget? t))
        {
            t = _factory(op.Space, op.Kind == TraceOpKind.SpaceCreated ? (TraceFeatures)op.Arg2 : TraceFeatures.None);
            _spaces.Add(op.Space, t);
        }
        _lastSpace = op.Space;
        return _last = t;
    }

    private void Apply(in TraceOperation op)
    {
        switch (op.Kind)
        {
            case TraceOpKind.SpaceCreated:
                Space(op);
                return;
            case TraceOpKind.SpaceDisposed:
                if (_spaces.Remove(op.Space, out IReplayTarget? gone))
                    gone.Dispose();
                _last = null;
                if (_snapshotEvery > 0)
                {
                    int gid = op.Space;
                    _mapped.Remove(gid);
                    _registered.RemoveWhere(r => r.Item1 == gid);
                }
                return;
            case TraceOpKind.MapRegion:
                Space(op).MapRegion(op.Start, op.Length, (TraceRegionKind)op.Arg, (TraceProtection)op.Arg2);
                if (_snapshotEvery > 0)
                    Mapped(op.Space).Add(op.Start, op.End);
                break;
            case TraceOpKind.Unmap:
                Space(op).Unmap(op.Start, op.Length);
                if (_snapshotEvery > 0)
                {
                    Mapped(op.Space).Remove(op.Start, op.End);
                    ulong s = op.Start, e = op.End;
                    int id = op.Space;
                    _registered.RemoveWhere(r => r.Item1 == id && r.Item2 < e && r.Item2 + r.Item3 > s);
                }
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

    private RegionMap Mapped(int space)
    {
        if (!_mapped.TryGetValue(space, out RegionMap? m))
            _mapped[space] = m = new RegionMap();
        return m;
    }

    private void Access(IReplayTarget t, in TraceOperation op)
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
        foreach (int id in _spaces.Keys.Order())
        {
            if (!_mapped.TryGetValue(id, out RegionMap? mapped))
                continue;
            IReplayTarget t = _spaces[id];
            foreach (var (start, end) in mapped.All.ToList())
            {
                if (_registered.Add((id, start, end - start)))
                    t.RegisterWp(start, end - start, 0);
                t.WriteProtect(start, end - start, protect: true);
            }
        }
    }

    /// <summary>The live address spaces by trace space id (for a caller that keeps them past <see cref="Finish(bool)"/>).</summary>
    public IReadOnlyDictionary<int, IReplayTarget> Targets => _spaces;

    public ReplayResult Finish() => Finish(keepTargets: false);

    /// <summary>The result (digests of the final state included); the targets stay open for <see cref="Targets"/> when asked (Dispose releases them).</summary>
    public ReplayResult Finish(bool keepTargets)
    {
        var byKind = new long[Enum.GetValues<TraceOpKind>().Length];
        var pages = new HashSet<(int, ulong)>();
        foreach (var op in _ops)
        {
            byKind[(int)op.Kind]++;
            if (op.Kind == TraceOpKind.Access)
                pages.Add((op.Space, op.Start >> 12));
        }
        var live = _spaces.OrderBy(kv => kv.Key).ToList();
        bool tables = live.All(kv => kv.Value is ITablesTarget);
        var r = new ReplayResult(_targetName, _ops.Count, Seconds, pages.Count,
            tables ? live.Sum(kv => ((ITablesTarget)kv.Value).TablesInUse) : null,
            tables ? TableDigest.Of(live.Select(kv => (kv.Key, (ITablesTarget)kv.Value))) : null,
            TableDigest.OfPagemap(live.Select(kv => (kv.Key, kv.Value)), pages),
            _spaces.Count, _wpFaults, _segvs, _snapshots, _copies,
            Enum.GetValues<TraceOpKind>().Where(k => byKind[(int)k] > 0).ToDictionary(k => k.ToString(), k => byKind[(int)k]));
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
        _last = null;
    }
}

/// <summary>An operation of the trace that the target refused: names the operation and why.</summary>
public sealed class ReplayException(long operationNumber, string message, Exception inner) : Exception(message, inner)
{
    /// <summary>The refused operation's position in the trace, from 1: operations before it were applied.</summary>
    public long OperationNumber { get; } = operationNumber;
}
