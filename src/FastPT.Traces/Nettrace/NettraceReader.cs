using FastPT.Diagnostics;
using FastPT.Traces.Operations;
using Microsoft.Diagnostics.Tracing;

namespace FastPT.Traces.Nettrace;

/// <summary>
/// Streams the FastPT events of a .nettrace (TraceEvent's EventPipeEventSource) as operations.
/// Other providers' events are ignored; a file that is not an EventPipe trace, or is cut short,
/// raises <see cref="TraceFormatException"/> naming the file.
/// </summary>
public static class NettraceReader
{
    /// <summary>Calls <paramref name="onOperation"/> for every FastPT operation event, in order.</summary>
    public static TraceReadSummary Read(string path, Action<TraceOperation> onOperation)
    {
        if (Directory.Exists(path))
            throw new TraceFormatException($"{path}: is a directory; give a .nettrace file.");
        if (!File.Exists(path))
            throw new TraceFormatException($"{path}: no such trace file; check the path, or record one with `fastpt record -o FILE.nettrace -- COMMAND`.");
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TraceFormatException($"{path}: cannot open the trace file: {e.Message}", e);
        }
        using (file)
            return Read(file, path, onOperation);
    }

    /// <summary>
    /// Reads a .nettrace from a seekable stream, from its position on; <paramref name="name"/> is
    /// what errors call it. Its structure is checked (<see cref="NettraceLayout"/>) before
    /// TraceEvent parses it. TraceEvent may dispose the stream when done.
    /// </summary>
    public static TraceReadSummary Read(Stream stream, string name, Action<TraceOperation> onOperation)
    {
        if (!stream.CanSeek)
            throw new ArgumentException("The stream must be seekable (its length is checked before TraceEvent sees it).", nameof(stream));
        string path = name;
        long length = stream.Length - stream.Position;
        if (length < 32)
            throw new TraceFormatException($"{path}: {length} bytes is too short for a .nettrace file (EventPipe 'Nettrace' header missing); re-record it with `fastpt record`.");

        // TraceEvent trusts every length and count in the file; bound them all first.
        long start = stream.Position;
        try
        {
            NettraceLayout.Check(stream, path);
        }
        catch (IOException e)
        {
            throw new TraceFormatException($"{path}: cannot read the trace: {e.Message}", e);
        }
        stream.Position = start;

        TraceInfo? info = null;
        long events = 0, other = 0;
        EventPipeEventSource source;
        try
        {
            source = new EventPipeEventSource(stream);
        }
        catch (Exception e)
        {
            throw new TraceFormatException($"{path}: not a readable .nettrace (EventPipe) file: {e.Message}", e);
        }
        using (source)
        {
            source.Dynamic.All += e =>
            {
                if (e.ProviderName != FastPTEventSource.SourceName)
                {
                    other++;
                    return;
                }
                events++;
                if ((int)e.ID == FastPTEventSource.EventIds.TraceInfo)
                {
                    info = new TraceInfo((string)e.PayloadValue(0), (string)e.PayloadValue(1), (long)e.PayloadValue(2), (long)e.PayloadValue(3));
                    return;
                }
                TraceOperation? op;
                try
                {
                    op = ToOperation(e);
                }
                catch (Exception x) when (x is InvalidCastException or IndexOutOfRangeException or NullReferenceException)
                {
                    throw new TraceFormatException(
                        $"{path}: FastPT event {e.EventName} (id {(int)e.ID}, version {e.Version}) has fields [{string.Join(", ", e.PayloadNames)}], " +
                        "which do not match the schema in traces/README.md; the trace was written by a different FastPT version.", x);
                }
                if (op is { } o)
                    onOperation(o);
            };
            try
            {
                source.Process();
            }
            catch (Exception e) when (e is not TraceFormatException)
            {
                throw new TraceFormatException($"{path}: the trace is corrupt or truncated after {events} FastPT events: {e.Message}", e);
            }
            if (source.EventsLost > 0)
                throw new TraceFormatException($"{path}: EventPipe reports {source.EventsLost} lost events; the trace is incomplete and would not replay faithfully.");
        }
        if (events == 0 && other == 0 && length > 4096)
            throw new TraceFormatException($"{path}: no events could be read from {length} bytes; the file is corrupt or truncated.");
        return new TraceReadSummary(events, other, info);
    }

    /// <summary>Reads a whole trace into memory (tests, small traces).</summary>
    public static (List<TraceOperation> Operations, TraceReadSummary Summary) ReadAll(string path)
    {
        var ops = new List<TraceOperation>();
        TraceReadSummary s = Read(path, ops.Add);
        return (ops, s);
    }

    private static TraceOperation? ToOperation(TraceEvent e)
    {
        int space = (int)e.PayloadValue(0);
        switch ((int)e.ID)
        {
            case FastPTEventSource.EventIds.SpaceCreated: return TraceOperation.SpaceCreated(space, (int)e.PayloadValue(1), (int)e.PayloadValue(2));
            case FastPTEventSource.EventIds.SpaceDisposed: return TraceOperation.SpaceDisposed(space);
            case FastPTEventSource.EventIds.Access:
                return TraceOperation.Access(space, (ulong)e.PayloadValue(1), (int)e.PayloadValue(2) != 0);
        }
        ulong start = (ulong)e.PayloadValue(1), len = (ulong)e.PayloadValue(2);
        return (int)e.ID switch
        {
            FastPTEventSource.EventIds.MapRegion => TraceOperation.Map(space, start, len, (TraceRegionKind)(int)e.PayloadValue(3), (TraceProtection)(int)e.PayloadValue(4)),
            FastPTEventSource.EventIds.Unmap => TraceOperation.Unmap(space, start, len),
            FastPTEventSource.EventIds.Protect => TraceOperation.Protect(space, start, len, (TraceProtection)(int)e.PayloadValue(3)),
            FastPTEventSource.EventIds.Zap => TraceOperation.Zap(space, start, len),
            FastPTEventSource.EventIds.RegisterWp => TraceOperation.RegisterWp(space, start, len, (int)e.PayloadValue(3)),
            FastPTEventSource.EventIds.WriteProtect => TraceOperation.WriteProtect(space, start, len, (int)e.PayloadValue(3) != 0),
            FastPTEventSource.EventIds.Unregister => TraceOperation.Unregister(space, start, len),
            _ => null,
        };
    }
}

/// <summary>What a read saw: FastPT events (operations + metadata), other providers' events, and the TraceInfo if any.</summary>
public sealed record TraceReadSummary(long FastPTEvents, long OtherEvents, TraceInfo? Info);
