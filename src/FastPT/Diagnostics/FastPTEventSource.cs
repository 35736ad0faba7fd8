using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace FastPT.Diagnostics;

/// <summary>
/// The `FastPT` EventSource: one event per public memory operation, with its arguments and
/// its results, so a run can be recorded to a .nettrace (EventPipe) and replayed.
/// The schema (ids, fields, versions) is documented in traces/README.md; change it only by
/// bumping an event's Version and keeping old fields in place.
/// Disabled, each Log call is one inlined IsEnabled check (a volatile read and compare).
/// </summary>
[EventSource(Name = SourceName)]
public sealed class FastPTEventSource : EventSource
{
    public const string SourceName = "FastPT";

    /// <summary>Result fields a producer does not know (e.g. operations imported from perf).</summary>
    public const long Unknown = -1;

    public static readonly FastPTEventSource Log = new();

    private static int s_lastSpace;

    /// <summary>A process-unique id for a new address space (the Space field of every event).</summary>
    public static int NextSpaceId() => Interlocked.Increment(ref s_lastSpace);

    private FastPTEventSource()
    {
    }

    /// <summary>Keywords must be constants of a nested class with this exact name, or the
    /// runtime silently treats the source as having none and records nothing.</summary>
    public static class Keywords
    {
        /// <summary>Address-space lifetime and trace metadata.</summary>
        public const EventKeywords Session = (EventKeywords)0x1;
        /// <summary>MapRegion, Unmap, Protect (mprotect), Zap.</summary>
        public const EventKeywords Regions = (EventKeywords)0x2;
        /// <summary>Access: one load or store through the fault path.</summary>
        public const EventKeywords Access = (EventKeywords)0x4;
        /// <summary>RegisterWp, WriteProtect, Unregister (userfaultfd write-protect).</summary>
        public const EventKeywords Uffd = (EventKeywords)0x8;
    }

    public static class EventIds
    {
        public const int SpaceCreated = 1;
        public const int SpaceDisposed = 2;
        public const int MapRegion = 3;
        public const int Unmap = 4;
        public const int Access = 5;
        public const int Protect = 6;
        public const int Zap = 7;
        public const int RegisterWp = 8;
        public const int WriteProtect = 9;
        public const int Unregister = 10;
        public const int TraceInfo = 11;
    }

    // ---- Guards: callers on hot paths check these before computing anything for an event.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool RegionsEnabled() => IsEnabled(EventLevel.Informational, Keywords.Regions);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool AccessEnabled() => IsEnabled(EventLevel.Verbose, Keywords.Access);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool UffdEnabled() => IsEnabled(EventLevel.Informational, Keywords.Uffd);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool SessionEnabled() => IsEnabled(EventLevel.Informational, Keywords.Session);

    // ---- Events. Every one is guarded again inside, so an unguarded call is still cheap.

    /// <summary>
    /// An address space (an mm) came into being. Space ids are unique per trace. Features are
    /// its userfaultfd's: bit 0 WP_UNPOPULATED, bit 1 WP_ASYNC.
    /// </summary>
    [Event(EventIds.SpaceCreated, Level = EventLevel.Informational, Keywords = Keywords.Session, Version = 1)]
    public void SpaceCreated(int Space, int Pid, int Features, string Name)
    {
        if (SessionEnabled())
            WriteSpaceCreated(Space, Pid, Features, Name);
    }

    [Event(EventIds.SpaceDisposed, Level = EventLevel.Informational, Keywords = Keywords.Session, Version = 1)]
    public void SpaceDisposed(int Space, long TablesInUse)
    {
        if (SessionEnabled())
            WriteSpaceDisposed(Space, TablesInUse);
    }

    /// <summary>mmap: Kind 0 = file (shared), 1 = anonymous (private); Protection 0 none, 1 read, 2 read-write.</summary>
    [Event(EventIds.MapRegion, Level = EventLevel.Informational, Keywords = Keywords.Regions, Version = 1)]
    public void MapRegion(int Space, ulong Start, ulong Length, int Kind, int Protection, int Status)
    {
        if (RegionsEnabled())
            WriteInts(EventIds.MapRegion, Space, Start, Length, Kind, Protection, Status);
    }

    [Event(EventIds.Unmap, Level = EventLevel.Informational, Keywords = Keywords.Regions, Version = 1)]
    public void Unmap(int Space, ulong Start, ulong Length, int Status, long EntriesChanged, long TablesFreed)
    {
        if (RegionsEnabled())
            WriteCounts(EventIds.Unmap, Space, Start, Length, Status, EntriesChanged, TablesFreed);
    }

    /// <summary>One load (Write 0) or store (Write 1). Outcome 0 completed, 1 wp fault, 2 segv.</summary>
    [Event(EventIds.Access, Level = EventLevel.Verbose, Keywords = Keywords.Access, Version = 1)]
    public void Access(int Space, ulong Address, int Write, int Outcome, long TablesAllocated)
    {
        if (AccessEnabled())
            WriteAccess(Space, Address, Write, Outcome, TablesAllocated);
    }

    /// <summary>mprotect: Protection 0 none, 1 read, 2 read-write.</summary>
    [Event(EventIds.Protect, Level = EventLevel.Informational, Keywords = Keywords.Regions, Version = 1)]
    public void Protect(int Space, ulong Start, ulong Length, int Protection, int Status, long EntriesChanged, long TablesAllocated)
    {
        if (RegionsEnabled())
            WriteArgCounts(EventIds.Protect, Space, Start, Length, Protection, Status, EntriesChanged, TablesAllocated);
    }

    /// <summary>madvise(MADV_DONTNEED).</summary>
    [Event(EventIds.Zap, Level = EventLevel.Informational, Keywords = Keywords.Regions, Version = 1)]
    public void Zap(int Space, ulong Start, ulong Length, int Status, long EntriesChanged, long TablesFreed)
    {
        if (RegionsEnabled())
            WriteCounts(EventIds.Zap, Space, Start, Length, Status, EntriesChanged, TablesFreed);
    }

    /// <summary>UFFDIO_REGISTER with MODE_WP. Flags: bit 0 WP_UNPOPULATED, bit 1 WP_ASYNC.</summary>
    [Event(EventIds.RegisterWp, Level = EventLevel.Informational, Keywords = Keywords.Uffd, Version = 1)]
    public void RegisterWp(int Space, ulong Start, ulong Length, int Flags, int Status)
    {
        if (UffdEnabled())
            WriteInts(EventIds.RegisterWp, Space, Start, Length, Flags, Status);
    }

    /// <summary>UFFDIO_WRITEPROTECT: Protect 1 = mode WP, 0 = resolve.</summary>
    [Event(EventIds.WriteProtect, Level = EventLevel.Informational, Keywords = Keywords.Uffd, Version = 1)]
    public void WriteProtect(int Space, ulong Start, ulong Length, int Protect, int Status, long EntriesChanged, long TablesAllocated)
    {
        if (UffdEnabled())
            WriteArgCounts(EventIds.WriteProtect, Space, Start, Length, Protect, Status, EntriesChanged, TablesAllocated);
    }

    [Event(EventIds.Unregister, Level = EventLevel.Informational, Keywords = Keywords.Uffd, Version = 1)]
    public void Unregister(int Space, ulong Start, ulong Length, int Status)
    {
        if (UffdEnabled())
            WriteInts(EventIds.Unregister, Space, Start, Length, Status);
    }

    /// <summary>Where a trace came from: the tool, the command it ran, and perf's lost-event count.</summary>
    [Event(EventIds.TraceInfo, Level = EventLevel.Informational, Keywords = Keywords.Session, Version = 1)]
    public void TraceInfo(string Tool, string Command, long LostEvents, long SkippedLines)
    {
        if (SessionEnabled())
            WriteTraceInfo(Tool, Command, LostEvents, SkippedLines);
    }

    // ---- Payload writers: WriteEventCore with stack data, no params object[] boxing.

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteInts(int id, int space, ulong start, ulong length, int a)
    {
        EventData* d = stackalloc EventData[4];
        Set(d, 0, &space, 4); Set(d, 1, &start, 8); Set(d, 2, &length, 8); Set(d, 3, &a, 4);
        WriteEventCore(id, 4, d);
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteInts(int id, int space, ulong start, ulong length, int a, int b)
    {
        EventData* d = stackalloc EventData[5];
        Set(d, 0, &space, 4); Set(d, 1, &start, 8); Set(d, 2, &length, 8); Set(d, 3, &a, 4); Set(d, 4, &b, 4);
        WriteEventCore(id, 5, d);
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteInts(int id, int space, ulong start, ulong length, int a, int b, int c)
    {
        EventData* d = stackalloc EventData[6];
        Set(d, 0, &space, 4); Set(d, 1, &start, 8); Set(d, 2, &length, 8); Set(d, 3, &a, 4);
        Set(d, 4, &b, 4); Set(d, 5, &c, 4);
        WriteEventCore(id, 6, d);
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteCounts(int id, int space, ulong start, ulong length, int status, long x, long y)
    {
        EventData* d = stackalloc EventData[6];
        Set(d, 0, &space, 4); Set(d, 1, &start, 8); Set(d, 2, &length, 8); Set(d, 3, &status, 4);
        Set(d, 4, &x, 8); Set(d, 5, &y, 8);
        WriteEventCore(id, 6, d);
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteArgCounts(int id, int space, ulong start, ulong length, int a, int status, long x, long y)
    {
        EventData* d = stackalloc EventData[7];
        Set(d, 0, &space, 4); Set(d, 1, &start, 8); Set(d, 2, &length, 8); Set(d, 3, &a, 4);
        Set(d, 4, &status, 4); Set(d, 5, &x, 8); Set(d, 6, &y, 8);
        WriteEventCore(id, 7, d);
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteAccess(int space, ulong address, int write, int outcome, long tables)
    {
        EventData* d = stackalloc EventData[5];
        Set(d, 0, &space, 4); Set(d, 1, &address, 8); Set(d, 2, &write, 4); Set(d, 3, &outcome, 4); Set(d, 4, &tables, 8);
        WriteEventCore(EventIds.Access, 5, d);
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteSpaceDisposed(int space, long tables)
    {
        EventData* d = stackalloc EventData[2];
        Set(d, 0, &space, 4); Set(d, 1, &tables, 8);
        WriteEventCore(EventIds.SpaceDisposed, 2, d);
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteSpaceCreated(int space, int pid, int features, string name)
    {
        name ??= "";
        fixed (char* n = name)
        {
            EventData* d = stackalloc EventData[4];
            Set(d, 0, &space, 4); Set(d, 1, &pid, 4); Set(d, 2, &features, 4); Set(d, 3, n, (name.Length + 1) * 2);
            WriteEventCore(EventIds.SpaceCreated, 4, d);
        }
    }

    [NonEvent]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Payloads are primitives and strings only.")]
    private unsafe void WriteTraceInfo(string tool, string command, long lost, long skipped)
    {
        tool ??= "";
        command ??= "";
        fixed (char* t = tool)
        fixed (char* c = command)
        {
            EventData* d = stackalloc EventData[4];
            Set(d, 0, t, (tool.Length + 1) * 2); Set(d, 1, c, (command.Length + 1) * 2);
            Set(d, 2, &lost, 8); Set(d, 3, &skipped, 8);
            WriteEventCore(EventIds.TraceInfo, 4, d);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Set(EventData* d, int i, void* p, int size)
    {
        d[i].DataPointer = (nint)p;
        d[i].Size = size;
    }
}
