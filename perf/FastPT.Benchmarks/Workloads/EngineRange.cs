using System.Runtime.Intrinsics;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// An address space whose range [Base, Base + bytes) is fully mapped with 4 KiB PTEs (or left
/// empty), plus the operations the benchmarks time on it. 1 GiB of VA is 2 MiB of PTE
/// tables (this machine's L2); 256 GiB is 512 MiB (DRAM). Shared by the BenchmarkDotNet
/// suites and `fastpt bench`.
/// </summary>
public sealed unsafe class EngineRange : IDisposable
{
    public const ulong Base = 1UL << 40;
    public const ulong PhysBase = 1UL << 44;

    private readonly NativeTableSource _tables = new();
    private readonly FlushPlan _flush = new();
    private AddressSpace _space;
    private nint[] _leafTables = [];
    private readonly ChangeProtectionParams _protect = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true);
    private readonly ChangeProtectionParams _unprotect = ChangeProtectionParams.UffdUnprotect(PgProt.Shared);

    public EngineRange(ulong bytes, bool populated)
    {
        if ((bytes & ((1UL << 21) - 1)) != 0 || bytes == 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "the range must be a positive multiple of 2 MiB");
        Bytes = bytes;
        _space = new AddressSpace(_tables);
        if (populated)
            Populate();
        else
            ReserveTables();
    }

    /// <summary>Every PTE table (and the pmd tables above them) the range can need, pre-faulted, so no walk takes a host page fault.</summary>
    private void ReserveTables()
    {
        long leaf = (long)(Bytes >> 21), pmd = (long)((Bytes + (1UL << 30) - 1) >> 30) + 1;
        if (!_tables.Reserve(leaf + pmd + 2))
            throw new InvalidOperationException($"could not reserve {leaf + pmd + 2} page tables for {Bytes >> 30} GiB");
    }

    public ulong Bytes { get; }

    public long Pages => (long)(Bytes >> 12);

    public ulong End => Base + Bytes;

    public AddressSpace Space => _space;

    public FlushPlan LastFlush => _flush;

    /// <summary>Every PTE present, writable and dirty (pages a guest has written), one table per 2 MiB.</summary>
    private void Populate()
    {
        var list = new List<nint>((int)(Bytes >> 21));
        for (ulong va = Base; va < End; va += 1UL << 21)
        {
            ulong pa = PhysBase + (va - Base);
            _space.Map(va, pa, PageSize.Size4K, PgProt.Shared | Pte.Dirty);
            ulong* t = _space.TryGetEntry(va, 1);
            for (int i = 0; i < 512; i++)
                t[i] = (pa + ((ulong)i << 12)) | PgProt.Shared | Pte.Dirty;
            list.Add((nint)t);
        }
        _leafTables = [.. list];
    }

    /// <summary>The public verb, as a user calls it: PageTableOps.ChangeProtection over the range.</summary>
    public long Protect() => Verb(_protect);

    public long Unprotect() => Verb(_unprotect);

    private long Verb(in ChangeProtectionParams p)
    {
        _flush.Clear();
        var r = PageTableOps.ChangeProtection(_space, Base, End, p, _flush);
        if (!r.Complete)
            throw new InvalidOperationException($"benchmark walk stopped: {r.Status} at 0x{r.WalkEnd:X}");
        return r.EntriesChanged;
    }

    public long ProtectWith(KernelIsa isa) => Walk(new ChangeProtectionOp<ExclusiveTables>(_protect, splitHuge: false, isa: isa));

    public long UnprotectWith(KernelIsa isa) => Walk(new ChangeProtectionOp<ExclusiveTables>(_unprotect, splitHuge: false, isa: isa));

    public long ProtectParallel(int degree)
    {
        var op = new ChangeProtectionOp<ExclusiveTables>(_protect, splitHuge: false);
        _flush.Clear();
        return ParallelWalker.Walk(_space, Base, End, ref op, _flush, degree).EntriesChanged;
    }

    public long UnprotectParallel(int degree)
    {
        var op = new ChangeProtectionOp<ExclusiveTables>(_unprotect, splitHuge: false);
        _flush.Clear();
        return ParallelWalker.Walk(_space, Base, End, ref op, _flush, degree).EntriesChanged;
    }

    private long Walk<TOp>(TOp op) where TOp : struct, ILeafOp
    {
        _flush.Clear();
        var r = RangeWalker.Walk(_space, Base, End, ref op, _flush);
        if (!r.Complete)
            throw new InvalidOperationException($"benchmark walk stopped: {r.Status} at 0x{r.WalkEnd:X}");
        return r.EntriesChanged;
    }

    /// <summary>
    /// The hardware limit for the same job: one SIMD load and store of every PTE table the
    /// walk touches, in the same order, with no walk and no logic.
    /// </summary>
    public void BarePass() => BareTables(_leafTables, 0, _leafTables.Length);

    /// <summary>
    /// The bare pass split into <paramref name="degree"/> contiguous parts run on as many
    /// threads (the same partition ParallelWalker makes): the most a parallel walk can gain
    /// on this machine's memory system and free cores.
    /// </summary>
    public void BarePassParallel(int degree)
    {
        nint[] tables = _leafTables;
        Parallel.For(0, degree, new ParallelOptions { MaxDegreeOfParallelism = degree }, k =>
        {
            int from = (int)((long)tables.Length * k / degree), to = (int)((long)tables.Length * (k + 1) / degree);
            BareTables(tables, from, to);
        });
    }

    private static void BareTables(nint[] tables, int from, int to)
    {
        for (int t = from; t < to; t++)
        {
            ulong* p = (ulong*)tables[t];
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

    /// <summary>Drops every table below the root (back to the source's free list) so the next populate allocates again.</summary>
    public void Reset()
    {
        _space.Dispose();
        _space = new AddressSpace(_tables);
        _leafTables = [];
        ReserveTables();
    }

    public void Dispose()
    {
        _space.Dispose();
        _tables.Dispose();
    }
}
