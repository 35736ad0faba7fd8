using FastPT.Linux;
using FastPT.Linux.Interop;
using FastPT.Kernels;

namespace FastPT.Scenarios.Backends;

/// <summary>
/// The live kernel as a scenario backend: real mappings, one userfaultfd per script, real loads
/// and stores, /proc/self/pagemap and PAGEMAP_SCAN. The process never takes a signal: accesses
/// the protection refuses are decided from the tracked mprotect state (checked against
/// /proc/self/maps when <see cref="VerifyProtectionsWithMaps"/>), and stores into registered
/// regions run on a worker thread while this thread serves the userfaultfd.
/// </summary>
public sealed unsafe class KernelBackend : IScenarioBackend, IRunDisturbance
{
    private readonly Dictionary<string, KernelRegion> _regions = new(StringComparer.Ordinal);
    private Userfaultfd? _uffd;
    private Pagemap? _pagemap;
    private BlockingWriter? _writer;
    private Dictionary<string, long>? _thpCountersAtStart;
    private FastPT.Linux.PageRegion[] _scanBuffer = [];

    /// <summary>How long one store may stay blocked before the run fails instead of hanging.</summary>
    public int FaultTimeoutMilliseconds { get; init; } = 10_000;

    /// <summary>Before each access, check the tracked protection against /proc/self/maps (slow; for tests).</summary>
    public bool VerifyProtectionsWithMaps { get; init; }

    public void Open(UffdFeatures features)
    {
        ThpSettings.CheckForAnyScript();
        var wanted = UffdFeature.PagefaultFlagWp | UffdFeature.WpHugetlbfsShmem;
        if (features.WpUnpopulated || features.WpAsync)
            wanted |= UffdFeature.WpUnpopulated;
        if (features.WpAsync)
            wanted |= UffdFeature.WpAsync;
        _uffd = new Userfaultfd(wanted);
        _pagemap = new Pagemap();
    }

    private Userfaultfd Uffd => _uffd ?? throw new InvalidOperationException("Open was not called");

    public void CreateRegion(RegionSpec region)
    {
        if (region.Thp && _thpCountersAtStart is null)
        {
            ThpSettings.CheckForThpRegion();
            _thpCountersAtStart = ThpCounters.Read();
        }
        long length = region.Pages * KernelRegion.PageSize;
        long span = AlignUp(length, KernelRegion.HugeSize);
        // Guard before, guard after, and slack to align the start.
        nuint reserveLength = (nuint)(span + 3 * KernelRegion.HugeSize);
        nint reserve = Libc.Mmap(0, reserveLength, Prot.None, MapFlags.Private | MapFlags.Anonymous | MapFlags.NoReserve, -1, 0);
        SyscallException.ThrowIf(reserve == MapFlags.Failed, $"mmap(reserve {reserveLength} bytes for region {region.Name})");
        nint start = (nint)AlignUp(reserve + KernelRegion.HugeSize, KernelRegion.HugeSize);
        nint keepFrom = start - (nint)KernelRegion.HugeSize, keepTo = start + (nint)(span + KernelRegion.HugeSize);
        if (keepFrom > reserve)
            Libc.Munmap(reserve, (nuint)(keepFrom - reserve));
        if (reserve + (nint)reserveLength > keepTo)
            Libc.Munmap(keepTo, (nuint)(reserve + (nint)reserveLength - keepTo));

        int memfd = -1;
        try
        {
            nint mapped;
            if (region.Kind == RegionKind.File)
            {
                memfd = Libc.MemfdCreate("fastpt-" + region.Name, FileFlags.MfdCloexec);
                SyscallException.ThrowIf(memfd < 0, $"memfd_create({region.Name})");
                SyscallException.ThrowIf(Libc.Ftruncate(memfd, length) != 0, $"ftruncate(memfd {region.Name}, {length})");
                mapped = Libc.Mmap(start, (nuint)length, Prot.ReadWrite, MapFlags.Shared | MapFlags.Fixed, memfd, 0);
            }
            else
            {
                mapped = Libc.Mmap(start, (nuint)length, Prot.ReadWrite, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, -1, 0);
            }
            SyscallException.ThrowIf(mapped == MapFlags.Failed, $"mmap(region {region.Name}, {length} bytes)");
            int advice = region.Thp ? Madv.HugePage : Madv.NoHugePage;
            SyscallException.ThrowIf(Libc.Madvise(start, (nuint)length, advice) != 0,
                $"madvise({region.Name}, {(region.Thp ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE")})");
            if (region.Wp)
                Uffd.Register(start, (nuint)length, UffdConstants.RegisterModeWp);
        }
        catch
        {
            Libc.Munmap(keepFrom, (nuint)(keepTo - keepFrom));
            if (memfd >= 0)
                Libc.Close(memfd);
            throw;
        }
        var protections = new Protection[region.Pages];
        Array.Fill(protections, Protection.ReadWrite);
        _regions.Add(region.Name, new KernelRegion
        {
            Name = region.Name,
            Kind = region.Kind,
            Pages = region.Pages,
            Base = start,
            ReservationBase = keepFrom,
            ReservationLength = (nuint)(keepTo - keepFrom),
            MemFd = memfd,
            Protections = protections,
            Registered = region.Wp,
        });
    }

    public AccessOutcome Access(string region, long page, bool write)
    {
        var r = _regions[region];
        var protection = r.Protections[page];
        nint address = r.Address(page);
        if (VerifyProtectionsWithMaps)
            ProcMaps.Verify(address, protection);
        if (protection == Protection.None || (write && protection != Protection.ReadWrite))
            return AccessOutcome.Segv;
        if (!write)
        {
            // A load never waits on a WP-only registration, so this thread can do it.
            _ = Volatile.Read(ref *(byte*)address);
            return AccessOutcome.Completed;
        }
        if (!r.Registered)
        {
            Volatile.Write(ref *(byte*)address, (byte)1);
            return AccessOutcome.Completed;
        }
        _writer ??= new BlockingWriter();
        return _writer.Write(address, Uffd, FaultTimeoutMilliseconds) > 0 ? AccessOutcome.WpFault : AccessOutcome.Completed;
    }

    public void Zap(string region, long first, long count)
    {
        var r = _regions[region];
        SyscallException.ThrowIf(Libc.Madvise(r.Address(first), (nuint)(count * KernelRegion.PageSize), Madv.DontNeed) != 0,
            $"madvise({region}:{first}+{count}, MADV_DONTNEED)");
    }

    public void WriteProtect(string region, long first, long count, bool protect)
    {
        var r = _regions[region];
        Uffd.WriteProtect(r.Address(first), (nuint)(count * KernelRegion.PageSize), protect);
    }

    public void Protect(string region, long first, long count, Protection protection)
    {
        var r = _regions[region];
        int prot = protection switch
        {
            Protection.None => Prot.None,
            Protection.Read => Prot.Read,
            _ => Prot.ReadWrite,
        };
        SyscallException.ThrowIf(Libc.Mprotect(r.Address(first), (nuint)(count * KernelRegion.PageSize), prot) != 0,
            $"mprotect({region}:{first}+{count}, {protection})");
        r.Protections.AsSpan((int)first, (int)count).Fill(protection);
    }

    public void Unregister(string region)
    {
        var r = _regions[region];
        if (!r.Registered)
            return;
        Uffd.Unregister(r.Base, r.Length);
        r.Registered = false;
    }

    public void Pagemap(string region, long first, long count, Span<ulong> entries)
    {
        var r = _regions[region];
        _pagemap!.Read(r.Address(first), entries[..(int)count]);
    }

    public ScanOutcome Scan(string region, long first, long count, ScanRequest request)
    {
        var r = _regions[region];
        int vec = request.VecLengthFor(count);
        if (_scanBuffer.Length < vec)
            _scanBuffer = new FastPT.Linux.PageRegion[vec];
        var arg = new PmScanArg
        {
            Flags = request.WriteProtectMatching ? PagemapScan.FlagWpMatching : 0,
            Start = (ulong)r.Address(first),
            End = (ulong)r.Address(first + count),
            MaxPages = (ulong)request.MaxPages,
            CategoryInverted = request.Inverted,
            CategoryMask = request.Mask,
            CategoryAnyofMask = request.AnyOf,
            ReturnMask = request.Return,
        };
        int n = PagemapScan.Scan(_pagemap!, ref arg, _scanBuffer.AsSpan(0, vec));
        var runs = new List<ScanRun>(n);
        for (int i = 0; i < n; i++)
        {
            var pr = _scanBuffer[i];
            runs.Add(new ScanRun(
                ((long)pr.Start - r.Base) / KernelRegion.PageSize,
                ((long)pr.End - r.Base) / KernelRegion.PageSize - 1,
                pr.Categories));
        }
        return new ScanOutcome(runs, ((long)arg.WalkEnd - r.Base) / KernelRegion.PageSize);
    }

    public string? DisturbedBy()
    {
        if (_thpCountersAtStart is null)
            return null;
        var now = ThpCounters.Read();
        foreach (var (name, before) in _thpCountersAtStart)
        {
            if (now.TryGetValue(name, out var after) && after != before)
                return $"/proc/vmstat {name} moved from {before} to {after} during the run (khugepaged or a failed huge page allocation)";
        }
        return null;
    }

    public void Dispose()
    {
        // Closing the userfaultfd wakes any store still blocked on it, so the worker can finish.
        _uffd?.Dispose();
        _writer?.Dispose();
        foreach (var r in _regions.Values)
            r.Release();
        _regions.Clear();
        _pagemap?.Dispose();
    }

    private static long AlignUp(long value, long alignment) => (value + alignment - 1) & ~(alignment - 1);
}
