using FastPT.Entries;
using FastPT.Paging;

namespace FastPT.Walk;

/// <summary>
/// <see cref="RangeWalker"/> across cores: the range is cut into one chunk per worker on
/// 2 MiB (pmd) boundaries, moved to 1 GiB when a boundary would fall inside a 1 GiB leaf,
/// and each chunk is walked by its own copy of the op. Counts are summed and flush plans
/// appended in address order, so the result equals a single-threaded walk.
/// <para>
/// Table allocation is not thread-safe (an <see cref="T:FastPT.Memory.ITableSource"/> is a plain
/// free list), so every table the walk could need is made serially first: a cheap scan of
/// the upper levels decides whether the op would allocate (empty upper entries for an op
/// that populates, huge leaves it may split); if so, one serial structure-only walk
/// allocates and splits exactly as the full walk would, and only then do the workers run,
/// finding every table in place. Ops that free tables (zap) run single-threaded. Op state
/// is not merged back: ops must write results through pointers to disjoint places. The
/// chunks run on <see cref="WalkWorkers"/> (the caller takes chunk 0), so a parallel walk
/// allocates nothing once its thread's job and the workers exist.
/// </para>
/// </summary>
internal static unsafe class ParallelWalker
{
    /// <summary>Below this much address space one thread is faster than waking another.</summary>
    public const ulong MinParallelBytes = 64UL << 20;

    private const ulong Pmd = 1UL << 21;
    private const ulong Pud = 1UL << 30;

    public static WalkResult Walk<TOp>(AddressSpace space, ulong start, ulong end, ref TOp op,
        FlushPlan? flush = null, int degreeOfParallelism = 0)
        where TOp : struct, ILeafOp
    {
        RangeWalker.CheckRange(space, start, end);
        int degree = degreeOfParallelism > 0 ? degreeOfParallelism : Environment.ProcessorCount;
        if (degree == 1 || op.FreeEmptyCoveredTables || end - start < MinParallelBytes)
            return RangeWalker.Walk(space, start, end, ref op, flush);

        int allocated = 0, splits = 0;
        ulong limit = end;
        var status = WalkStatus.Complete;
        var job = ChunkJob<TOp>.For(degree);
        job.Structure.Clear();
        if (NeedsStructure(space, space.RootTable, space.Levels, start, end, ref op))
        {
            // Its splits owe flushes too (the page size changes): kept apart and merged in address order below.
            var structure = new StructureOp<TOp>(op);
            var s = RangeWalker.Walk(space, start, end, ref structure, flush != null ? job.Structure : null);
            allocated = s.TablesAllocated;
            splits = s.HugeSplits;
            if (!s.Complete)
            {
                // The serial walk would stop at the same table; do everything before it.
                status = s.Status;
                limit = s.WalkEnd;
                if (limit == start)
                {
                    if (flush != null)
                        foreach (var range in job.Structure.Ranges)
                            flush.Add(range.Start, range.End);
                    return new WalkResult(status, start, 0, allocated, 0, splits);
                }
            }
        }

        int chunks = Chunk(space, start, limit, degree, job.Bounds);
        job.Space = space;
        job.Op = op;
        job.WithFlush = flush != null;
        try
        {
            if (!WalkWorkers.TryRun(job, chunks))
            {
                // Another parallel walk holds the workers: same chunks, one after another.
                for (int k = 0; k < chunks; k++)
                    job.Run(k);
            }
        }
        finally
        {
            job.Space = null!; // the cached job must not keep the address space alive
            job.Op = default;
        }

        long changed = 0;
        int freed = 0;
        bool stopped = false;
        for (int k = 0; k < chunks; k++)
        {
            var r = job.Results[k];
            changed += r.EntriesChanged;
            allocated += r.TablesAllocated;
            freed += r.TablesFreed;
            splits += r.HugeSplits;
            if (!r.Complete && !stopped)
            {
                // Only tables whose links changed under the walk get here (one table linked at
                // two levels, as hostile guest tables can be): the first chunk that stopped is
                // where the walk stopped; the chunks after it ran (their flushes are kept).
                stopped = true;
                status = r.Status;
                limit = r.WalkEnd;
            }
        }
        if (flush != null)
            MergeFlushes(flush, job.Structure, job.Plans, chunks);
        return new WalkResult(status, limit, changed, allocated, freed, splits);
    }

    /// <summary>
    /// Appends the split flushes and the chunks' plans (each ascending, the chunks in address
    /// order) to <paramref name="flush"/> in ascending order, as one serial walk would have.
    /// </summary>
    private static void MergeFlushes(FlushPlan flush, FlushPlan structure, FlushPlan[] plans, int chunks)
    {
        var splits = structure.Ranges;
        int s = 0;
        for (int k = 0; k < chunks; k++)
        {
            foreach (var range in plans[k].Ranges)
            {
                for (; s < splits.Length && splits[s].Start <= range.Start; s++)
                    flush.Add(splits[s].Start, splits[s].End);
                flush.Add(range.Start, range.End);
            }
        }
        for (; s < splits.Length; s++)
            flush.Add(splits[s].Start, splits[s].End);
    }

    /// <summary>Chunk boundaries on pmd boundaries, never inside a 1 GiB leaf, into <paramref name="b"/>; returns the chunk count.</summary>
    private static int Chunk(AddressSpace space, ulong start, ulong end, int degree, ulong[] b)
    {
        int n = 0;
        b[n++] = start;
        ulong step = ((end - start) / (ulong)degree + Pmd - 1) & ~(Pmd - 1);
        for (int k = 1; k < degree; k++)
        {
            ulong at = ((start & ~(Pmd - 1)) + (ulong)k * step);
            ulong* pud = space.TryGetEntry(at, 3);
            if (pud != null && !LinuxPte.IsNone(*pud) && ((*pud & Pte.Present) == 0 || (*pud & Pte.PageSize) != 0))
                at = (at + Pud - 1) & ~(Pud - 1);
            if (at > b[n - 1] && at < end)
                b[n++] = at;
        }
        b[n] = end;
        return n;
    }

    /// <summary>
    /// Would a walk of [start, end) allocate? Yes when an op that populates meets an empty
    /// upper entry, or when the op splits a huge leaf in the range.
    /// </summary>
    private static bool NeedsStructure<TOp>(AddressSpace space, ulong* table, int level, ulong start, ulong end, ref TOp op)
        where TOp : struct, ILeafOp
    {
        int shift = AddressSpace.Shift(level);
        ulong size = 1UL << shift;
        for (ulong va = start; va < end;)
        {
            ulong boundary = (va & ~(size - 1)) + size;
            ulong next = boundary < end && boundary != 0 ? boundary : end;
            ulong e = table[(va >> shift) & 511];
            if (LinuxPte.IsNone(e))
            {
                if (op.PopulateTables)
                    return true;
            }
            else if ((e & Pte.Present) == 0 || level <= 3 && (e & Pte.PageSize) != 0)
            {
                if (level <= 3 && op.SplitsHuge(e, level, va == (va & ~(size - 1)) && next - va == size))
                    return true;
            }
            else
            {
                // A link outside the source's memory (at any level): the serial walk stops there, before the workers.
                ulong* child = space.TryTable(e & Pte.PfnMask);
                if (child == null || level > 2 && NeedsStructure(space, child, level - 1, va, next, ref op))
                    return true;
            }
            va = next;
        }
        return false;
    }

    /// <summary>The op's table needs (populate, split) without touching a leaf.</summary>
    private readonly struct StructureOp<TOp>(TOp op) : ILeafOp where TOp : struct, ILeafOp
    {
        private readonly TOp _op = op;

        public bool PopulateTables => _op.PopulateTables;

        public bool FreeEmptyCoveredTables => false;

        public ulong StopAt => 0;

        public bool SplitsHuge(ulong entry, int level, bool covered) => _op.SplitsHuge(entry, level, covered);

        public HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush) => HugeAction.Done;

        public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush) => true;

        public bool Hole(ulong va, ulong end) => true;
    }
}
