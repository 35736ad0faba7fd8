using FastPT.Memory;

namespace FastPT.Traces.Replay;

/// <summary>
/// Page tables shared by the engine target's spaces, as the kernel's page allocator is shared by
/// its processes: a space's tables go back to the pool when it is disposed and the next space
/// (or the next pass over the trace) takes them warm, instead of every space reserving and
/// first-touching chunks of its own (a trace of 40 short-lived processes paid more for that than
/// for its operations). Each space counts its own tables (<see cref="NativeTableSource.Share"/>:
/// walks read them as plain pointers, as with a space's own source). Not thread-safe: one replay at a time.
/// </summary>
public sealed class TablePool : IDisposable
{
    private readonly NativeTableSource _source = new();

    /// <summary>A table source for one space, backed by this pool.</summary>
    public ITableSource ForSpace() => _source.Share();

    public void Dispose()
    {
        _source.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A pool that was never disposed returns its memory when it is collected.</summary>
    ~TablePool() => _source.Dispose();
}
