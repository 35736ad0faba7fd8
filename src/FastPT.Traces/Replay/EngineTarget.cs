using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Traces.Operations;
using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Traces.Replay;

/// <summary>The engine: one <see cref="MemoryModel"/> (an mm on FastPT's own tables) per space.</summary>
public sealed class EngineTarget : IReplayTarget, ITablesTarget
{
    private readonly MemoryModel _model;
    // Replay has no TLB to invalidate: each operation's plan is dropped after the call.
    private readonly FlushPlan _flush = new();

    /// <param name="tables">Where the space's tables come from (e.g. a <see cref="TablePool"/>); null: its own.</param>
    public EngineTarget(TraceFeatures features, ITableSource? tables = null)
    {
        var f = UffdFeatures.None;
        if ((features & TraceFeatures.WpUnpopulated) != 0)
            f |= UffdFeatures.WpUnpopulated;
        if ((features & TraceFeatures.WpAsync) != 0)
            f |= UffdFeatures.WpAsync;
        _model = new MemoryModel(f, tables);
    }

    /// <summary>A factory whose spaces take their tables from <paramref name="pool"/> (it lives as long as the factory).</summary>
    public static ReplayTargetFactory Factory(TablePool pool) => (_, features) => new EngineTarget(features, pool.ForSpace());

    /// <summary>Wraps a model built elsewhere (to digest it).</summary>
    public EngineTarget(MemoryModel model) => _model = model;

    public MemoryModel Model => _model;

    private FlushPlan Flushed()
    {
        _flush.Clear();
        return _flush;
    }

    public long TablesInUse => _model.TablesInUse;

    public void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection) =>
        _model.Map(start, length, kind == TraceRegionKind.File ? Backing.File : Backing.Anon, (MemoryProtection)protection);

    public void Unmap(ulong start, ulong length) => _model.Unmap(start, length, Flushed());

    public TraceAccessOutcome Access(ulong address, bool write) => _model.Access(address, write, Flushed()).Outcome switch
    {
        AccessOutcome.Completed => TraceAccessOutcome.Completed,
        AccessOutcome.WriteProtectFault => TraceAccessOutcome.WpFault,
        _ => TraceAccessOutcome.Segv,
    };

    public void Protect(ulong start, ulong length, TraceProtection protection) => _model.Protect(start, length, (MemoryProtection)protection, Flushed());

    public void Zap(ulong start, ulong length) => _model.Zap(start, length, Flushed());

    /// <summary>Flags are per userfaultfd in the engine (SpaceCreated's features); per-call flags are ignored.</summary>
    public void RegisterWp(ulong start, ulong length, int flags) => _model.RegisterWriteProtect(start, length, Flushed());

    public void WriteProtect(ulong start, ulong length, bool protect) => _model.WriteProtect(start, length, protect, Flushed());

    public void Unregister(ulong start, ulong length) => _model.Unregister(start, length, Flushed());

    public ulong Pagemap(ulong address) => _model.Pagemap(address);

    /// <summary>Pre-order walk of the tables: every non-zero entry that is not a pointer to a table.</summary>
    public unsafe void VisitLeaves(Action<ulong, int, ulong> visit)
    {
        AddressSpace s = _model.Space;
        Walk(s, s.RootTable, s.Levels, 0, visit);
    }

    private static unsafe void Walk(AddressSpace s, ulong* table, int level, ulong baseVa, Action<ulong, int, ulong> visit)
    {
        for (int i = 0; i < 512; i++)
        {
            ulong e = table[i];
            if (e == 0)
                continue;
            ulong va = baseVa | ((ulong)i << AddressSpace.Shift(level));
            if (level > 1 && (e & Pte.Present) != 0 && !AddressSpace.IsLeaf(e, level))
                Walk(s, s.Table(e & Pte.PfnMask), level - 1, va, visit);
            else
                visit(va, level, e);
        }
    }

    public void Dispose() => _model.Dispose();
}
