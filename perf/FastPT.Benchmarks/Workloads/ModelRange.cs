using System.Runtime.Intrinsics;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// Memory as a user's: 1 GiB of private anonymous memory in a <see cref="MemoryModel"/> whose
/// userfaultfd is in async write-protect mode, populated by the model's own fault path (one
/// write per page), so its tables are what faults built (frames from the allocator, soft-dirty,
/// tables allocated as faults came). The timed calls are the public verbs.
/// </summary>
public sealed unsafe class ModelRange : IDisposable
{
    public const ulong Base = 0x7E00_0000_0000;

    private readonly MemoryModel _model = new(UffdFeatures.WpAsync);
    private readonly FlushPlan _flush = new();
    private readonly PageRegion[] _regions;
    private readonly nint[] _leafTables;
    private readonly ulong[] _written;
    private static readonly PagemapScanRequest WrittenAndProtect = new(Mask: PageCategories.Written, Return: PageCategories.Written, WriteProtectMatching: true);

    public ModelRange(ulong bytes, double writtenFraction, int seed = 1)
    {
        Bytes = bytes;
        _model.Map(Base, bytes, Backing.Anon, MemoryProtection.ReadWrite);
        _model.RegisterWriteProtect(Base, bytes, new FlushPlan());
        for (ulong va = Base; va < End; va += 4096)
            Access(va);
        var tables = new List<nint>((int)(bytes >> 21));
        for (ulong va = Base; va < End; va += 1UL << 21)
            tables.Add((nint)_model.Space.TryGetEntry(va, 1));
        _leafTables = [.. tables];
        var r = new Random(seed);
        _written = [.. Enumerable.Range(0, (int)Pages).Where(_ => r.NextDouble() < writtenFraction).Select(p => Base + ((ulong)p << 12))];
        _regions = new PageRegion[_written.Length + 16];
    }

    public ulong Bytes { get; }

    public long Pages => (long)(Bytes >> 12);

    public ulong End => Base + Bytes;

    public MemoryModel Model => _model;

    /// <summary>UFFDIO_WRITEPROTECT mode WP over the range: MemoryModel.WriteProtect.</summary>
    public long Protect() => WriteProtect(protect: true);

    public long Unprotect() => WriteProtect(protect: false);

    private long WriteProtect(bool protect)
    {
        _flush.Clear();
        return _model.WriteProtect(Base, Bytes, protect, _flush).EntriesChanged;
    }

    /// <summary>Writes the chosen pages through the fault path (each an async write-protect fault the model resolves itself). Not timed.</summary>
    public void Dirty()
    {
        foreach (ulong va in _written)
            Access(va);
    }

    private void Access(ulong va)
    {
        _flush.Clear();
        _model.Access(va, write: true, _flush);
    }

    /// <summary>PAGEMAP_SCAN written pages + WP_MATCHING over the range: MemoryModel.Scan. Returns the pages found.</summary>
    public long ScanWrittenAndProtect()
    {
        _flush.Clear();
        var r = _model.Scan(Base, End, WrittenAndProtect, _regions, _flush);
        if (!r.Complete)
            throw new InvalidOperationException($"the scan stopped at 0x{r.WalkEnd:X} ({r.Status}); the region buffer should hold every run");
        LastRegionCount = r.RegionCount;
        return r.PagesFound;
    }

    /// <summary>Regions the last <see cref="ScanWrittenAndProtect"/> wrote (one per run of written pages).</summary>
    public int LastRegionCount { get; private set; }

    /// <summary>One SIMD load and store of every PTE table of the range, in order: the hardware limit for a protect.</summary>
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

    /// <summary>One SIMD load of every PTE table of the range, in order: the hardware limit for a scan that changes nothing.</summary>
    public void BareRead()
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<ulong>.Zero;
            foreach (nint t in _leafTables)
            {
                ulong* p = (ulong*)t;
                for (int i = 0; i < 512; i += 8)
                    acc |= Vector512.Load(p + i);
            }
            _sink = acc.ToScalar();
        }
        else
        {
            var acc = Vector256<ulong>.Zero;
            foreach (nint t in _leafTables)
            {
                ulong* p = (ulong*)t;
                for (int i = 0; i < 512; i += 4)
                    acc |= Vector256.Load(p + i);
            }
            _sink = acc.ToScalar();
        }
    }

    /// <summary>
    /// The hardware limit for a scan that protects what was written: one SIMD load of every PTE
    /// of the range, in order, its written (not uffd-wp) entries changed as pte_mkuffd_wp changes
    /// them (uffd-wp set, RW cleared, D moved to saved-dirty), and a store of every vector
    /// (branch-free, as the scan kernel stores: which vectors hold a written page is random).
    /// No categories, no regions, no flush plan, no model. Untracked by the model, but it leaves
    /// the entries a scan would leave; <see cref="Dirty"/> goes through the fault path again.
    /// </summary>
    public void BareProtectWritten()
    {
        if (Vector512.IsHardwareAccelerated)
            BareProtectWritten512();
        else
            BareProtectWritten256(); // Vector512 without AVX-512 is emulated: not a floor
    }

    private void BareProtectWritten512()
    {
        var uffdWp = Vector512.Create(Pte.UffdWp);
        var writable = Vector512.Create(Pte.Writable);
        var dirty = Vector512.Create(Pte.Dirty);
        foreach (nint t in _leafTables)
        {
            ulong* p = (ulong*)t;
            for (int i = 0; i < 512; i += 8)
            {
                var old = Vector512.Load(p + i);
                var written = Vector512.Equals(old & uffdWp, Vector512<ulong>.Zero);
                Vector512.Store(Vector512.ConditionalSelect(written, FastPT.Kernels.ScanVector512.MkUffdWp(old, uffdWp, writable, dirty), old), p + i);
            }
        }
    }

    private void BareProtectWritten256()
    {
        var uffdWp = Vector256.Create(Pte.UffdWp);
        var writable = Vector256.Create(Pte.Writable);
        var dirty = Vector256.Create(Pte.Dirty);
        foreach (nint t in _leafTables)
        {
            ulong* p = (ulong*)t;
            for (int i = 0; i < 512; i += 4)
            {
                var old = Vector256.Load(p + i);
                var written = Vector256.Equals(old & uffdWp, Vector256<ulong>.Zero);
                Vector256.Store(Vector256.ConditionalSelect(written, FastPT.Kernels.ScanVector256.MkUffdWp(old, uffdWp, writable, dirty), old), p + i);
            }
        }
    }

    private ulong _sink;

    /// <summary>What <see cref="BareRead"/> read (keeps the loads from being optimised away).</summary>
    public ulong Sink => _sink;

    public void Dispose() => _model.Dispose();
}
