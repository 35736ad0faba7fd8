using System.Diagnostics;
using System.Diagnostics.Tracing;
using FastPT.Diagnostics;
using FastPT.Traces.Operations;
using Microsoft.Diagnostics.NETCore.Client;

namespace FastPT.Traces.Nettrace;

/// <summary>
/// Writes operations as a genuine EventPipe trace: it opens an EventPipe session on this very
/// process for the FastPT provider, emits each operation through <see cref="FastPTEventSource"/>,
/// and streams the session into the file. So the file is what `dotnet-trace` would have
/// recorded, and opens in PerfView and TraceEvent. Result fields are written as -1 (unknown):
/// imported operations have no results; a replay recomputes them.
/// </summary>
public static class NettraceWriter
{
    /// <summary>Events emitted before the writer pauses for the session to drain (keeps the
    /// circular buffer from overwriting events the reader has not taken yet).</summary>
    private const int DrainEvery = 200_000;

    /// <summary>Records <paramref name="produce"/> (which emits FastPT events in this process) to <paramref name="path"/>.</summary>
    public static void Record(string path, Action produce)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var provider = new EventPipeProvider(FastPTEventSource.SourceName, EventLevel.Verbose, keywords: -1);
        var client = new DiagnosticsClient(Environment.ProcessId);
        using EventPipeSession session = client.StartEventPipeSession([provider], requestRundown: false, circularBufferMB: 512);
        using (var file = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16))
        {
            Task copy = session.EventStream.CopyToAsync(file);
            // Stop the session and finish the copy on every path, so no task is left writing
            // into the file after it is closed.
            try
            {
                // The enable command reaches the EventSource asynchronously.
                var wait = Stopwatch.StartNew();
                while (!FastPTEventSource.Log.IsEnabled(EventLevel.Verbose, (EventKeywords)(-1)))
                {
                    if (wait.Elapsed > TimeSpan.FromSeconds(10))
                        throw new InvalidOperationException("The EventPipe session did not enable the FastPT EventSource within 10 s (is DOTNET_EnableDiagnostics=0 set?).");
                    Thread.Sleep(5);
                }
                produce();
            }
            finally
            {
                session.Stop();
                copy.Wait();
            }
        }
    }

    /// <summary>Emits a stream of operations as FastPT events; to be called inside <see cref="Record"/>.</summary>
    public static long Emit(IEnumerable<TraceOperation> operations)
    {
        var log = FastPTEventSource.Log;
        const long u = FastPTEventSource.Unknown;
        long n = 0;
        foreach (TraceOperation op in operations)
        {
            switch (op.Kind)
            {
                case TraceOpKind.SpaceCreated: log.SpaceCreated(op.Space, op.Arg, op.Arg2, ""); break;
                case TraceOpKind.SpaceDisposed: log.SpaceDisposed(op.Space, u); break;
                case TraceOpKind.MapRegion: log.MapRegion(op.Space, op.Start, op.Length, op.Arg, op.Arg2, 0); break;
                case TraceOpKind.Unmap: log.Unmap(op.Space, op.Start, op.Length, 0, u, u); break;
                case TraceOpKind.Access: log.Access(op.Space, op.Start, op.Arg, -1, u); break;
                case TraceOpKind.Protect: log.Protect(op.Space, op.Start, op.Length, op.Arg, 0, u, u); break;
                case TraceOpKind.Zap: log.Zap(op.Space, op.Start, op.Length, 0, u, u); break;
                case TraceOpKind.RegisterWp: log.RegisterWp(op.Space, op.Start, op.Length, op.Arg, 0); break;
                case TraceOpKind.WriteProtect: log.WriteProtect(op.Space, op.Start, op.Length, op.Arg, 0, u, u); break;
                case TraceOpKind.Unregister: log.Unregister(op.Space, op.Start, op.Length, 0); break;
            }
            if (++n % DrainEvery == 0)
                Thread.Sleep(200);
        }
        return n;
    }
}
