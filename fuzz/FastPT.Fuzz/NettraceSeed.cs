using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;

namespace FastPT.Fuzz;

/// <summary>
/// A real EventPipe trace, small enough to mutate quickly: one operation of every kind, so the
/// fuzzer starts with every FastPT event's metadata and payload layout in hand.
/// </summary>
internal static class NettraceSeed
{
    public static void Write(string path)
    {
        const ulong at = 0x7f00_0000_0000;
        TraceOperation[] ops =
        [
            TraceOperation.SpaceCreated(1, 42, 0),
            TraceOperation.Map(1, at, 0x4000, TraceRegionKind.Anon, TraceProtection.ReadWrite),
            TraceOperation.Access(1, at + 0x1000, true),
            TraceOperation.RegisterWp(1, at, 0x4000, 1),
            TraceOperation.WriteProtect(1, at, 0x2000, true),
            TraceOperation.Protect(1, at, 0x1000, TraceProtection.Read),
            TraceOperation.Zap(1, at + 0x2000, 0x1000),
            TraceOperation.Unregister(1, at, 0x4000),
            TraceOperation.Unmap(1, at, 0x4000),
            TraceOperation.SpaceDisposed(1),
        ];
        NettraceWriter.Record(path, () => NettraceWriter.Emit(ops));
    }
}
