namespace FastPT.Traces.Operations;

/// <summary>
/// One FastPT operation as a trace carries it: the payload of one FastPT event, without
/// the results (a replay recomputes those). Field use per kind is in <see cref="TraceOpKind"/>.
/// </summary>
public readonly record struct TraceOperation(TraceOpKind Kind, int Space, ulong Start, ulong Length, int Arg, int Arg2 = 0)
{
    public static TraceOperation SpaceCreated(int space, int pid, int features = 0) => new(TraceOpKind.SpaceCreated, space, 0, 0, pid, features);
    public static TraceOperation SpaceDisposed(int space) => new(TraceOpKind.SpaceDisposed, space, 0, 0, 0);
    public static TraceOperation Map(int space, ulong start, ulong length, TraceRegionKind kind, TraceProtection prot)
        => new(TraceOpKind.MapRegion, space, start, length, (int)kind, (int)prot);
    public static TraceOperation Unmap(int space, ulong start, ulong length) => new(TraceOpKind.Unmap, space, start, length, 0);
    public static TraceOperation Access(int space, ulong address, bool write) => new(TraceOpKind.Access, space, address, 1, write ? 1 : 0);
    public static TraceOperation Protect(int space, ulong start, ulong length, TraceProtection prot) => new(TraceOpKind.Protect, space, start, length, (int)prot);
    public static TraceOperation Zap(int space, ulong start, ulong length) => new(TraceOpKind.Zap, space, start, length, 0);
    public static TraceOperation RegisterWp(int space, ulong start, ulong length, int flags) => new(TraceOpKind.RegisterWp, space, start, length, flags);
    public static TraceOperation WriteProtect(int space, ulong start, ulong length, bool protect) => new(TraceOpKind.WriteProtect, space, start, length, protect ? 1 : 0);
    public static TraceOperation Unregister(int space, ulong start, ulong length) => new(TraceOpKind.Unregister, space, start, length, 0);

    public ulong End => Start + Length;

    public override string ToString() => Kind switch
    {
        TraceOpKind.SpaceCreated => $"space {Space} created (pid {Arg})",
        TraceOpKind.SpaceDisposed => $"space {Space} disposed",
        TraceOpKind.Access => $"space {Space} {(Arg != 0 ? "write" : "read")} 0x{Start:x}",
        TraceOpKind.MapRegion => $"space {Space} map 0x{Start:x}+0x{Length:x} {(TraceRegionKind)Arg} {(TraceProtection)Arg2}",
        _ => $"space {Space} {Kind} 0x{Start:x}+0x{Length:x} arg {Arg}",
    };
}
