using FastPT.Traces.Operations;

namespace FastPT.Traces.Perf;

/// <summary>
/// Turns perf events of real processes into FastPT operations, one address space per
/// process image (a pid gets a new space at each exec). Mapping:
/// mmap → MapRegion (anonymous → Anon, anything file-backed or shared → File;
/// PROT_WRITE → ReadWrite, PROT_READ/EXEC → Read, else None; a mapping over existing ones
/// first unmaps them, as MAP_FIXED does); munmap → Unmap; mprotect → Protect;
/// madvise(MADV_DONTNEED / MADV_REMOVE) → Zap; brk growth → MapRegion of the new heap pages,
/// shrink → Unmap; a user page fault → Access of its page, a store when error_code bit 1 is set.
/// Mappings made before tracing began (exec-time ELF segments, stack, vdso) are not seen as
/// mmap calls: the first touch there maps an implicit Anon read-write region over the
/// 2 MiB-aligned block around the fault, clipped to the surrounding gap.
/// Syscalls apply when they succeed (at their exit), except madvise, applied at entry.
/// </summary>
public sealed class PerfImporter
{
    private const ulong PageMask = 0xFFF;
    private const ulong Block = 2UL << 20;
    private const ulong MapShared = 0x01, MapAnonymous = 0x20; // MAP_SHARED_VALIDATE (3) has bit 0 too
    private const ulong ProtRead = 0x1, ProtWrite = 0x2, ProtExec = 0x4;
    private const ulong MadvDontNeed = 4, MadvRemove = 9;

    private readonly Action<TraceOperation> _emit;
    private readonly HashSet<int>? _pidFilter;
    private readonly Dictionary<int, Space> _byPid = [];
    private readonly Dictionary<int, PerfEvent> _pendingByTid = [];
    private int _nextSpace = 1;

    /// <param name="emit">Receives the operations in trace order.</param>
    /// <param name="pidFilter">Only these pids (null: every pid in the capture).</param>
    public PerfImporter(Action<TraceOperation> emit, IEnumerable<int>? pidFilter = null)
    {
        _emit = emit;
        _pidFilter = pidFilter is null ? null : [.. pidFilter];
    }

    /// <summary>Every pid that got an address space, in first-seen order.</summary>
    public List<int> TrackedPids { get; } = [];

    public long Operations { get; private set; }
    public long ImplicitRegions { get; private set; }
    public long FailedSyscalls { get; private set; }

    private sealed class Space(int id)
    {
        public readonly int Id = id;
        public readonly RegionMap Regions = new();
        public ulong BrkStart, Brk;
        public bool BrkKnown;
    }

    public void Add(PerfEvent e)
    {
        if (_pidFilter is not null && !_pidFilter.Contains(e.Pid))
            return;
        switch (e.Kind)
        {
            case PerfEventKind.EnterMmap:
            case PerfEventKind.EnterMunmap:
            case PerfEventKind.EnterMprotect:
            case PerfEventKind.EnterBrk:
                _pendingByTid[e.Tid] = e;
                return;
            case PerfEventKind.ExitMmap:
            case PerfEventKind.ExitMunmap:
            case PerfEventKind.ExitMprotect:
            case PerfEventKind.ExitBrk:
                if (_pendingByTid.Remove(e.Tid, out PerfEvent enter) && Matches(enter.Kind, e.Kind))
                    Exit(SpaceOf(e.Pid), enter, e);
                return;
            case PerfEventKind.EnterMadvise:
                if ((e.C is MadvDontNeed or MadvRemove) && Pages(e.A, e.B, out ulong start, out ulong end))
                {
                    Space s = SpaceOf(e.Pid);
                    foreach (var (rs, re) in s.Regions.Covered(start, end))
                        Emit(TraceOperation.Zap(s.Id, rs, re - rs));
                }
                return;
            case PerfEventKind.PageFault:
                Fault(SpaceOf(e.Pid), e.A, (e.B & 0x2) != 0);
                return;
            case PerfEventKind.ProcessExec:
                if (_byPid.Remove(e.Pid, out Space? old))
                    Emit(TraceOperation.SpaceDisposed(old.Id));
                SpaceOf(e.Pid);
                return;
            default:
                return;
        }
    }

    private static bool Matches(PerfEventKind enter, PerfEventKind exit) => (enter, exit) switch
    {
        (PerfEventKind.EnterMmap, PerfEventKind.ExitMmap) => true,
        (PerfEventKind.EnterMunmap, PerfEventKind.ExitMunmap) => true,
        (PerfEventKind.EnterMprotect, PerfEventKind.ExitMprotect) => true,
        (PerfEventKind.EnterBrk, PerfEventKind.ExitBrk) => true,
        _ => false,
    };

    private Space SpaceOf(int pid)
    {
        if (!_byPid.TryGetValue(pid, out Space? s))
        {
            s = new Space(_nextSpace++);
            _byPid[pid] = s;
            if (!TrackedPids.Contains(pid))
                TrackedPids.Add(pid);
            Emit(TraceOperation.SpaceCreated(s.Id, pid));
        }
        return s;
    }

    private void Exit(Space s, PerfEvent enter, PerfEvent exit)
    {
        if (exit.IsErrorReturn)
        {
            FailedSyscalls++;
            return;
        }
        switch (enter.Kind)
        {
            case PerfEventKind.EnterMmap:
            {
                ulong start = exit.A; // page-aligned: the parser refuses other results
                if (!Pages(start, enter.B, out _, out ulong end))
                    return;
                if (s.Regions.Covered(start, end).Count > 0)
                    Unmap(s, start, end);
                bool anon = (enter.D & MapAnonymous) != 0 && (enter.D & MapShared) == 0;
                var kind = anon ? TraceRegionKind.Anon : TraceRegionKind.File;
                Emit(TraceOperation.Map(s.Id, start, end - start, kind, Protection(enter.C)));
                s.Regions.Add(start, end);
                return;
            }
            case PerfEventKind.EnterMunmap:
                if (Pages(enter.A, enter.B, out ulong unmapStart, out ulong unmapEnd))
                    Unmap(s, unmapStart, unmapEnd);
                return;
            case PerfEventKind.EnterMprotect:
            {
                if (!Pages(enter.A, enter.B, out ulong start, out ulong end))
                    return;
                // Exec-time mappings (e.g. RELRO of the binary) were never seen: map them first.
                foreach (var (hs, he) in s.Regions.Holes(start, end))
                    MapImplicit(s, hs, he);
                Emit(TraceOperation.Protect(s.Id, start, end - start, Protection(enter.C)));
                return;
            }
            case PerfEventKind.EnterBrk:
            {
                ulong now = exit.A;
                if (!s.BrkKnown)
                {
                    s.BrkStart = s.Brk = now;
                    s.BrkKnown = true;
                    return;
                }
                ulong oldEnd = PageUp(s.Brk), newEnd = PageUp(Math.Max(now, s.BrkStart));
                if (newEnd > oldEnd)
                {
                    Unmap(s, oldEnd, newEnd);
                    Emit(TraceOperation.Map(s.Id, oldEnd, newEnd - oldEnd, TraceRegionKind.Anon, TraceProtection.ReadWrite));
                    s.Regions.Add(oldEnd, newEnd);
                }
                else if (newEnd < oldEnd)
                {
                    Unmap(s, newEnd, oldEnd);
                }
                s.Brk = now;
                return;
            }
        }
    }

    private void Unmap(Space s, ulong start, ulong end)
    {
        foreach (var (rs, re) in s.Regions.Covered(start, end))
            Emit(TraceOperation.Unmap(s.Id, rs, re - rs));
        s.Regions.Remove(start, end);
    }

    private void Fault(Space s, ulong address, bool write)
    {
        ulong page = address & ~PageMask;
        if (!s.Regions.Contains(page))
        {
            ulong lo = page & ~(Block - 1);
            var (gs, ge) = s.Regions.GapAround(page, lo, lo + Block);
            MapImplicit(s, gs, ge);
        }
        Emit(TraceOperation.Access(s.Id, page, write));
    }

    private void MapImplicit(Space s, ulong start, ulong end)
    {
        ImplicitRegions++;
        Emit(TraceOperation.Map(s.Id, start, end - start, TraceRegionKind.Anon, TraceProtection.ReadWrite));
        s.Regions.Add(start, end);
    }

    private static TraceProtection Protection(ulong prot) =>
        (prot & ProtWrite) != 0 ? TraceProtection.ReadWrite
        : (prot & (ProtRead | ProtExec)) != 0 ? TraceProtection.Read
        : TraceProtection.None;

    private static ulong PageUp(ulong x) => (x + PageMask) & ~PageMask;

    /// <summary>
    /// The pages of [address, address + length); false when that is empty or leaves the user
    /// address space: the kernel refuses such a call (or makes it a no-op), so there is nothing to apply.
    /// </summary>
    private static bool Pages(ulong address, ulong length, out ulong start, out ulong end)
    {
        start = address & ~PageMask;
        end = PageUp(address + length);
        return length != 0 && address + length > address && address + length <= PerfEvent.UserEnd;
    }

    private void Emit(TraceOperation op)
    {
        Operations++;
        _emit(op);
    }
}
