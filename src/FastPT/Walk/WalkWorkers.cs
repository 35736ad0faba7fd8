using System.Runtime.ExceptionServices;
using FastPT.Paging;

namespace FastPT.Walk;

/// <summary>
/// Dedicated background threads for <see cref="ParallelWalker"/>: chunk 0 runs on the caller,
/// chunk k on worker k-1, and the caller waits for all. Jobs, signals and threads are reused,
/// so a parallel walk allocates nothing once warm (Parallel.For allocated ~2.7 KB per walk).
/// One parallel walk at a time uses the pool; a concurrent caller is told to walk serially.
/// </summary>
internal static class WalkWorkers
{
    private static readonly object Gate = new();
    private static Worker[] _workers = [];

    /// <summary>Runs chunks [0, chunks) of <paramref name="job"/>; false (nothing run) if the pool is busy.</summary>
    public static bool TryRun(ChunkJob job, int chunks)
    {
        if (!Monitor.TryEnter(Gate))
            return false;
        try
        {
            if (_workers.Length < chunks - 1)
            {
                var grown = new Worker[chunks - 1];
                _workers.CopyTo(grown, 0);
                for (int w = _workers.Length; w < grown.Length; w++)
                    grown[w] = new Worker(w);
                _workers = grown;
            }
            job.Begin(chunks - 1);
            for (int k = 1; k < chunks; k++)
                _workers[k - 1].Start(job, k);
            try
            {
                job.Run(0);
            }
            catch (Exception e)
            {
                job.Fail(e);
            }
            job.WaitForWorkers();
            job.ThrowIfFailed();
            return true;
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _go = new(0);
        private ChunkJob? _job;
        private int _chunk;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"fastpt-walk-{index + 1}" };
            thread.Start();
        }

        public void Start(ChunkJob job, int chunk)
        {
            _job = job;
            _chunk = chunk;
            _go.Release();
        }

        private void Loop()
        {
            while (true)
            {
                _go.Wait();
                var job = _job!;
                try
                {
                    job.Run(_chunk);
                }
                catch (Exception e)
                {
                    job.Fail(e);
                }
                job.WorkerDone();
            }
        }
    }
}

/// <summary>One parallel walk's shared state; subclasses run chunk k.</summary>
internal abstract class ChunkJob
{
    private readonly ManualResetEventSlim _done = new(false);
    private int _pending;
    private Exception? _error;

    protected ChunkJob()
    {
        // The event creates its lock object the first time a wait really blocks. Block once
        // now (it times out at once) so that allocation happens here, when the job is made,
        // not in whichever warm walk first has to wait for a slow worker.
        _done.Wait(1);
    }

    public abstract void Run(int chunk);

    public void Begin(int workers)
    {
        _error = null;
        _pending = workers;
        if (workers == 0)
            _done.Set();
        else
            _done.Reset();
    }

    public void Fail(Exception e) => Interlocked.CompareExchange(ref _error, e, null);

    public void WorkerDone()
    {
        if (Interlocked.Decrement(ref _pending) == 0)
            _done.Set();
    }

    public void WaitForWorkers() => _done.Wait();

    public void ThrowIfFailed()
    {
        if (_error != null)
            ExceptionDispatchInfo.Capture(_error).Throw();
    }
}

/// <summary>A parallel walk of one op type: per-chunk bounds, op copies, results and flush plans, reused per calling thread.</summary>
internal sealed class ChunkJob<TOp> : ChunkJob where TOp : struct, ILeafOp
{
    [ThreadStatic]
    private static ChunkJob<TOp>? t_cached;

    public AddressSpace Space = null!;
    public ulong[] Bounds = [];
    public WalkResult[] Results = [];
    public FlushPlan[] Plans = [];
    /// <summary>The flushes of the serial structure pass (splits), merged with the chunks' afterwards.</summary>
    public readonly FlushPlan Structure = new();
    public TOp Op;
    public bool WithFlush;

    /// <summary>This thread's job for TOp, with room for <paramref name="degree"/> chunks.</summary>
    public static ChunkJob<TOp> For(int degree)
    {
        var job = t_cached ??= new ChunkJob<TOp>();
        if (job.Results.Length < degree)
        {
            job.Bounds = new ulong[degree + 1];
            job.Results = new WalkResult[degree];
            job.Plans = new FlushPlan[degree];
            for (int k = 0; k < degree; k++)
                job.Plans[k] = new FlushPlan();
        }
        return job;
    }

    public override void Run(int chunk)
    {
        TOp local = Op; // one op value per chunk
        FlushPlan? plan = null;
        if (WithFlush)
        {
            plan = Plans[chunk];
            plan.Clear();
        }
        Results[chunk] = RangeWalker.Walk(Space, Bounds[chunk], Bounds[chunk + 1], ref local, plan, mayAllocate: false);
    }
}
