using System.Runtime.Intrinsics;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;
using FastPT.Traces.Perf;
using FastPT.Traces.Replay;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// Tables like a real program's: a committed trace (traces/*.nettrace) replayed through the
/// engine, and the tables its address spaces were left with. The timed calls are the public
/// raw-table verbs over every mapped region of every space: a uffd write-protect and its
/// resolve (PageTableOps.ChangeProtection, no markers, so empty entries stay empty), and a
/// written-page scan (PageTableOps.Scan).
/// </summary>
public sealed unsafe class ReplayedTables : IDisposable
{
    private readonly Replayer _replayer;
    private readonly List<(EngineTarget Target, ulong Start, ulong End)> _ranges = [];
    private readonly nint[] _leafTables;
    private readonly FlushPlan _flush = new();
    private readonly PageRegion[] _regions = new PageRegion[1 << 16];
    private static readonly ChangeProtectionParams ProtectParams = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: false);
    private static readonly ChangeProtectionParams UnprotectParams = ChangeProtectionParams.UffdUnprotect(PgProt.Shared);
    private static readonly PagemapScanRequest Written = new(Mask: PageCategories.Written, Return: PageCategories.Written);

    public ReplayedTables(string tracePath)
    {
        Name = Path.GetFileNameWithoutExtension(tracePath);
        var (ops, _) = NettraceReader.ReadAll(tracePath);
        _replayer = new Replayer(TraceReplay.Factory(TraceReplay.DefaultTarget, ops), TraceReplay.DefaultTarget);
        _replayer.Run(ops);
        var result = _replayer.Finish(keepTargets: true);
        Operations = result.Operations;
        // What each space has mapped at the end: its regions, from the trace's map and unmap operations.
        var mapped = new Dictionary<int, RegionMap>();
        foreach (var op in ops)
        {
            if (op.Kind == TraceOpKind.MapRegion)
                (mapped.TryGetValue(op.Space, out var m) ? m : mapped[op.Space] = new RegionMap()).Add(op.Start, op.Start + op.Length);
            else if (op.Kind == TraceOpKind.Unmap && mapped.TryGetValue(op.Space, out var u))
                u.Remove(op.Start, op.Start + op.Length);
        }
        var tables = new HashSet<nint>();
        foreach (var (space, t) in _replayer.Targets)
        {
            if (t is not EngineTarget target || !mapped.TryGetValue(space, out var regions))
                continue;
            foreach (var (start, end) in regions.All)
            {
                ulong length = end - start;
                _ranges.Add((target, start, end));
                Pages += (long)(length >> 12);
                for (ulong va = start; va < start + length; va += 4096)
                {
                    ulong* slot = target.Model.Space.TryGetEntry(va, 1);
                    if (slot != null)
                        tables.Add((nint)(slot - AddressSpace(va)));
                }
            }
        }
        _leafTables = [.. tables];
        if (Pages == 0)
            throw new InvalidOperationException($"{tracePath} leaves no mapped region to time");
    }

    private static long AddressSpace(ulong va) => (long)((va >> 12) & 511);

    public string Name { get; }

    public long Operations { get; }

    /// <summary>Pages of the mapped regions the verbs walk.</summary>
    public long Pages { get; }

    public int LeafTables => _leafTables.Length;

    public void Protect() => ChangeProtection(ProtectParams);

    public void Unprotect() => ChangeProtection(UnprotectParams);

    private void ChangeProtection(in ChangeProtectionParams p)
    {
        _flush.Clear();
        foreach (var (target, start, end) in _ranges)
            PageTableOps.ChangeProtection(target.Model.Space, start, end, p, _flush);
    }

    /// <summary>Written pages of every region, reported (no WP_MATCHING: the tables stay as they are).</summary>
    public long Scan()
    {
        long found = 0;
        _flush.Clear();
        foreach (var (target, start, end) in _ranges)
            found += PageTableOps.Scan(target.Model.Space, start, end, Written, _regions, _flush).PagesFound;
        return found;
    }

    /// <summary>One SIMD load and store of every PTE table the verbs walk: the hardware limit.</summary>
    public void BarePass()
    {
        foreach (nint t in _leafTables)
        {
            ulong* p = (ulong*)t;
            if (Vector512.IsHardwareAccelerated)
            {
                for (int i = 0; i < 512; i += 8)
                    Vector512.Store(Vector512.Load(p + i), p + i);
            }
            else
            {
                for (int i = 0; i < 512; i += 4)
                    Vector256.Store(Vector256.Load(p + i), p + i);
            }
        }
    }

    public void Dispose() => _replayer.Dispose();
}
