namespace FastPT.Traces.Perf;

/// <summary>The perf tracepoints `fastpt record` asks for, plus the lost-events record.</summary>
public enum PerfEventKind : byte
{
    PageFault,
    EnterMmap, ExitMmap,
    EnterMunmap, ExitMunmap,
    EnterMprotect, ExitMprotect,
    EnterMadvise,
    EnterBrk, ExitBrk,
    ProcessExec,
    Lost,
}
