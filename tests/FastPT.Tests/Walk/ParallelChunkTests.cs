using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Walk;

/// <summary>
/// How <see cref="ParallelWalker"/> divides a range: chunks start on 2 MiB boundaries moved off
/// 1 GiB leaves, each walked by its own copy of the op (which is how a test sees them), small
/// ranges and freeing ops stay serial, and every table the op needs exists before any chunk runs.
/// </summary>
public unsafe class ParallelChunkTests
{
    private const ulong Base = 0x40_0000_0000;
    private const ulong M = 1UL << 20, G = 1UL << 30;

    /// <summary>The test thread walking, and what the op saw of the threads that ran its other chunks.</summary>
    private static int Caller => Volatile.Read(ref s_caller);
    private static int s_caller = -1;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Workers = new();

    /// <summary>Notes where each copy of it starts, counts every leaf-level call.</summary>
    private struct ChunkLogOp(ulong* starts, int* count, long* calls, bool populate = false, bool split = false, bool freeEmpty = false,
        ulong throwFrom = ulong.MaxValue, bool splitPartial = false, bool splitOnceWalking = false, ulong stopAt = ulong.MaxValue) : ILeafOp
    {
        private bool _started;

        public readonly bool PopulateTables => populate;

        public readonly bool FreeEmptyCoveredTables => freeEmpty;

        public readonly ulong StopAt => stopAt;

        // splitOnceWalking: no to the structure pass, yes once a chunk has seen a leaf: as if the
        // tables changed under the walk (what one table linked at two levels can do).
        public readonly bool SplitsHuge(ulong entry, int level, bool covered) =>
            split || splitPartial && !covered || splitOnceWalking && Volatile.Read(ref *calls) > 0;

        public HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
        {
            Note(from);
            return HugeAction.Done;
        }

        public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
        {
            Note(va);
            return stopAt - va >= (ulong)count << 12; // false: the stop is in this run
        }

        public bool Hole(ulong va, ulong end)
        {
            Note(va);
            return true;
        }

        private void Note(ulong va)
        {
            if (va >= throwFrom)
                throw new InvalidOperationException($"planted at 0x{va:X}");
            var thread = Thread.CurrentThread;
            if (Caller != -1 && thread.ManagedThreadId != Caller)
                Workers[thread.Name ?? "(unnamed)"] = thread.IsBackground;
            Interlocked.Increment(ref *calls);
            if (!_started)
            {
                _started = true;
                starts[Interlocked.Increment(ref *count) - 1] = va;
            }
        }
    }

    /// <summary>
    /// Where the copies of a <see cref="ChunkLogOp"/> note their starts and count their calls:
    /// native memory, so every copy, on any thread, points at the same place.
    /// </summary>
    private sealed class ChunkLog : IDisposable
    {
        private const int Capacity = 16;
        private readonly ulong* _memory = (ulong*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((Capacity + 2) * sizeof(ulong));

        private int* CountSlot => (int*)(_memory + Capacity);

        public long* Calls => (long*)(_memory + Capacity + 1);

        public int Count
        {
            get => *CountSlot;
            set => *CountSlot = value;
        }

        public ChunkLogOp Op(bool populate = false, bool split = false, bool freeEmpty = false, ulong throwFrom = ulong.MaxValue, bool splitPartial = false,
            bool splitOnceWalking = false, ulong stopAt = ulong.MaxValue) =>
            new(_memory, CountSlot, Calls, populate, split, freeEmpty, throwFrom, splitPartial, splitOnceWalking, stopAt);

        /// <summary>The chunk starts noted, in address order.</summary>
        public ulong[] Starts()
        {
            var found = new Span<ulong>(_memory, Count).ToArray();
            Array.Sort(found);
            return found;
        }

        public void Dispose() => System.Runtime.InteropServices.NativeMemory.Free(_memory);
    }

    /// <summary>A native source that counts the tables allocated once the op has seen a leaf.</summary>
    private sealed class WatchingSource(NativeTableSource inner, long* leafCalls) : ITableSource
    {
        public int Allocated, AllocatedDuringChunks;

        public bool TryAllocate(out ulong physical)
        {
            Allocated++;
            if (Volatile.Read(ref *leafCalls) > 0)
                Interlocked.Increment(ref AllocatedDuringChunks);
            return inner.TryAllocate(out physical);
        }

        public ulong* Table(ulong physical) => inner.Table(physical);

        public ulong* TryTable(ulong physical) => ((ITableSource)inner).TryTable(physical);

        public void Free(ulong physical) => inner.Free(physical);

        public long TablesInUse => inner.TablesInUse;

        public bool ContainsTable(ulong physical) => ((ITableSource)inner).ContainsTable(physical);
    }

    /// <summary>First GiB: 4 KiB pages and 2 MiB leaves and empty pmds, second: a 1 GiB leaf, third: empty.</summary>
    private static AddressSpace Build(ITableSource tables)
    {
        var s = new AddressSpace(tables);
        for (ulong pmd = 0; pmd < 512; pmd++)
        {
            ulong va = Base + (pmd << 21);
            if (pmd % 3 == 1)
                s.Map(va, (pmd + 1) << 21, PageSize.Size2M, PgProt.Shared);
            else if (pmd % 3 == 2)
                s.Map(va, (pmd + 1) << 21, PageSize.Size4K, PgProt.Shared); // one page of the pmd
        }
        s.Map(Base + G, G, PageSize.Size1G, PgProt.Shared);
        return s;
    }

    private static ulong[] ChunkStarts(ulong start, ulong end, int degree, bool freeEmpty = false)
    {
        using var tables = new NativeTableSource();
        using var s = Build(tables);
        using var log = new ChunkLog();
        var op = log.Op(freeEmpty: freeEmpty);
        Assert.True(ParallelWalker.Walk(s, start, end, ref op, null, degree).Complete);
        return log.Starts();
    }

    public static TheoryData<ulong, ulong, int, ulong[]> Cuts() => new()
    {
        // 3 GiB in 4: 768 MiB steps; the cut at 1536 MiB falls inside the 1 GiB leaf and moves to its end.
        { Base, Base + 3 * G, 4, [Base, Base + 768 * M, Base + 2 * G, Base + 2304 * M] },
        // A cut at the start of the 1 GiB leaf is not inside it.
        { Base, Base + 3 * G, 3, [Base, Base + G, Base + 2 * G] },
        // An unaligned start: the steps count from its 2 MiB boundary, rounded up to 2 MiB (50 MiB).
        { Base + 0x5000, Base + 200 * M, 4, [Base + 0x5000, Base + 50 * M, Base + 100 * M, Base + 150 * M] },
        // Steps of 200 MiB / 3 = 66.7 MiB round up to 68 MiB.
        { Base, Base + 200 * M, 3, [Base, Base + 68 * M, Base + 136 * M] },
        // Every cut falls in the 1 GiB leaf and moves past the end: one chunk.
        { Base + 960 * M, Base + G + 512 * M, 4, [Base + 960 * M] },
        // Cuts moved to the same place count once.
        { Base + 512 * M, Base + 2 * G + 256 * M, 8, [Base + 512 * M, Base + 736 * M, Base + 960 * M, Base + 2 * G, Base + 2 * G + 32 * M] },
        // Serial: one thread, or less than 64 MiB of address space.
        { Base, Base + 3 * G, 1, [Base] },
        { Base, Base + 62 * M, 4, [Base] },
        { Base, Base + 64 * M, 2, [Base, Base + 32 * M] },
    };

    [Theory]
    [MemberData(nameof(Cuts))]
    public void ChunksStartOnPmdBoundariesOutsideOneGiBLeaves(ulong start, ulong end, int degree, ulong[] expected) =>
        Assert.Equal(expected, ChunkStarts(start, end, degree));

    [Fact]
    public void AnOpThatFreesTablesRunsSerially() =>
        Assert.Equal([Base], ChunkStarts(Base, Base + 3 * G, 4, freeEmpty: true));

    public static TheoryData<string, ulong, ulong> Needs() => new()
    {
        { "populate an empty GiB", Base + 2 * G, Base + 3 * G },
        { "populate empty pmds inside a present GiB", Base, Base + 256 * M },
        { "split 2 MiB leaves", Base, Base + 256 * M },
        { "split the 1 GiB leaf", Base + G, Base + 2 * G },
        { "populate past a 1 GiB leaf", Base + G, Base + 3 * G },
        { "split partly covered: the range ends inside a 2 MiB leaf", Base, Base + 68 * M + 0x1000 },
        { "split partly covered: the range starts inside a 2 MiB leaf", Base + 2 * M + 0x1000, Base + 256 * M },
    };

    [Theory]
    [MemberData(nameof(Needs))]
    public void EveryTableIsMadeBeforeTheFirstChunkRuns(string what, ulong start, ulong end)
    {
        using var native = new NativeTableSource();
        using var log = new ChunkLog();
        var tables = new WatchingSource(native, log.Calls);
        using var s = Build(tables);
        int before = tables.Allocated;
        var op = log.Op(populate: what.StartsWith("populate", StringComparison.Ordinal),
            split: what.StartsWith("split the", StringComparison.Ordinal) || what.StartsWith("split 2", StringComparison.Ordinal),
            splitPartial: what.StartsWith("split partly", StringComparison.Ordinal));
        var r = ParallelWalker.Walk(s, start, end, ref op, null, 4);
        Assert.True(r.Complete);
        Assert.True(tables.Allocated > before, what);
        Assert.Equal(tables.Allocated - before, r.TablesAllocated);
        Assert.Equal(0, tables.AllocatedDuringChunks);
        Assert.True(log.Count > 1);
        Assert.True(s.Verify().IsValid);
    }

    [Theory]
    [InlineData(16UL)]   // in the first chunk: the later chunks ran, the walk still ends here
    [InlineData(802UL)]  // in the second
    public void AChunkThatStopsEndsTheWalkThere(ulong atMiB)
    {
        // The pmds at 16 and 802 MiB hold 4 KiB pages (pmd % 3 == 2): a run starts there.
        using var tables = new NativeTableSource();
        using var s = Build(tables);
        using var log = new ChunkLog();
        ulong stop = Base + atMiB * M;
        var op = log.Op(stopAt: stop);
        var r = ParallelWalker.Walk(s, Base, Base + G, ref op, null, 2);
        Assert.Equal((WalkStatus.Stopped, stop), (r.Status, r.WalkEnd));
        Assert.Equal(2, log.Count);
    }

    [Fact]
    public void AChunkNeverAllocatesAndStopsWhereItWouldHave()
    {
        // The structure pass splits nothing; once walking, a chunk meets 2 MiB leaves it would
        // split (the first at 2 MiB, after the empty pmd at 0). No table is taken off the
        // calling thread: the table source is not for concurrent use.
        using var native = new NativeTableSource();
        using var log = new ChunkLog();
        var tables = new WatchingSource(native, log.Calls);
        using var s = Build(tables);
        int before = tables.Allocated;
        var op = log.Op(splitOnceWalking: true);
        var r = ParallelWalker.Walk(s, Base, Base + G, ref op, null, 2);
        Assert.Equal(0, tables.AllocatedDuringChunks);
        Assert.Equal(before, tables.Allocated);
        Assert.Equal((WalkStatus.OutOfTables, Base + 2 * M, 0), (r.Status, r.WalkEnd, r.TablesAllocated));
        Assert.True(s.Verify().IsValid);
    }

    [Theory]
    [InlineData(0UL)]              // every chunk throws, the caller's included
    [InlineData(2304UL)]           // only the last chunk's worker throws
    public void AChunkThatThrowsFailsTheWalkAndLeavesTheWorkersUsable(ulong fromMiB)
    {
        using var tables = new NativeTableSource();
        using var s = Build(tables);
        using var log = new ChunkLog();
        var bad = log.Op(throwFrom: Base + fromMiB * M);
        var e = Assert.Throws<InvalidOperationException>(() => ParallelWalker.Walk(s, Base, Base + 3 * G, ref bad, null, 4));
        Assert.StartsWith("planted at 0x", e.Message, StringComparison.Ordinal);
        log.Count = 0;
        var good = log.Op();
        Assert.True(ParallelWalker.Walk(s, Base, Base + 3 * G, ref good, null, 4).Complete);
        Assert.Equal(4, log.Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void ADegreeBelowOneMeansOneChunkPerProcessor(int degree) =>
        Assert.Equal(ChunkStarts(Base, Base + 512 * M, Environment.ProcessorCount), ChunkStarts(Base, Base + 512 * M, degree));

    [Fact]
    public void OneChunkOnAFreshThreadDoesNotWaitForWorkersThatWereNeverStarted()
    {
        // A thread's first parallel walk of an op type whose cuts all move past the end.
        ulong[]? starts = null;
        var thread = new Thread(() => starts = ChunkStarts(Base + 960 * M, Base + G + 512 * M, 4));
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the one-chunk walk never returned");
        Assert.Equal([Base + 960 * M], starts!);
    }

    [Fact]
    public void ChunksRunOnNamedBackgroundWorkers()
    {
        // Another test may hold the workers for a moment (this walk then runs its chunks itself): retry.
        Workers.Clear();
        Volatile.Write(ref s_caller, Environment.CurrentManagedThreadId);
        try
        {
            for (int i = 0; i < 200 && Workers.IsEmpty; i++)
                ChunkStarts(Base, Base + 3 * G, 2);
        }
        finally
        {
            Volatile.Write(ref s_caller, -1);
        }
        Assert.False(Workers.IsEmpty, "no chunk ever ran on a worker");
        foreach (var (name, background) in Workers)
        {
            Assert.True(System.Text.RegularExpressions.Regex.IsMatch(name, "^fastpt-walk-[1-9][0-9]*$"), $"a chunk ran on thread '{name}'");
            Assert.True(background, $"{name} would keep the process alive");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(40)]
    public void OutOfTablesInTheStructurePassEndsWhereASerialWalkWouldWithItsFlushes(int failOn)
    {
        // Splitting from the 1 GiB leaf on: the leaf splits (a flush owed), then a table for a 2 MiB leaf is refused.
        var ends = new List<(WalkResult, FlushRange[])>();
        foreach (int degree in new[] { 1, 4 })
        {
            using var native = new NativeTableSource();
            var tables = new FastPT.Tests.Memory.FailingTableSource(native);
            using var s = Build(tables);
            tables.FailOn = failOn;
            ends.Add(SplitEverything(s, Base + G, Base + 3 * G, degree));
            Assert.True(tables.Failed);
            Assert.True(s.Verify().IsValid);
        }
        Assert.Equal(WalkStatus.OutOfTables, ends[0].Item1.Status);
        Assert.Equal(failOn == 1, ends[0].Item2.Length == 0); // the 1 GiB leaf split before the walk stopped: its flush is owed
        Assert.Equal(ends[0].Item1, ends[1].Item1);
        Assert.Equal(ends[0].Item2, ends[1].Item2);
    }

    [Fact]
    public void SplitFlushesAfterTheLastChangedRangeAreKept()
    {
        // The op flags no flush of its own: every range in the plan is a split's, all after the chunks' (empty) plans.
        var plans = new List<FlushRange[]>();
        foreach (int degree in new[] { 1, 4 })
        {
            using var tables = new NativeTableSource();
            using var s = Build(tables);
            var (r, plan) = SplitEverything(s, Base, Base + 2 * G, degree);
            Assert.True(r.Complete);
            plans.Add(plan);
        }
        Assert.True(plans[0].Length > 100);
        Assert.Equal(plans[0], plans[1]);
    }

    /// <summary>A walk that splits every huge leaf it meets and changes nothing else: its result and flush plan.</summary>
    private static (WalkResult, FlushRange[]) SplitEverything(AddressSpace s, ulong start, ulong end, int degree)
    {
        using var log = new ChunkLog();
        var flush = new FlushPlan();
        var op = log.Op(split: true);
        return (ParallelWalker.Walk(s, start, end, ref op, flush, degree), flush.Ranges.ToArray());
    }
}
