namespace FastPT.Traces.Perf;

/// <summary>
/// One parsed `perf script` line. A/B/C/D hold the tracepoint's fields in the order the
/// tracepoint prints them (mmap: addr, len, prot, flags; fault: address, error_code;
/// exits: the return value in A; lost: the count in A).
/// </summary>
public readonly record struct PerfEvent(
    PerfEventKind Kind, int Pid, int Tid, string Comm, double Time, ulong A, ulong B = 0, ulong C = 0, ulong D = 0, long LineNumber = 0)
{
    /// <summary>A syscall exit value is an error when it is -4095..-1 as a signed number.</summary>
    /// <summary>End of the user address space with 5-level paging (Linux TASK_SIZE, LA57); no user address is at or above it.</summary>
    public const ulong UserEnd = (1UL << 56) - 0x1000;

    public bool IsErrorReturn => (long)A < 0 && (long)A >= -4095;
}
