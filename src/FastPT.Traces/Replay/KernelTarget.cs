using FastPT.Linux;
using FastPT.Linux.Interop;
using FastPT.Traces.Operations;
using FastPT.Uffd;

namespace FastPT.Traces.Replay;

/// <summary>
/// The live kernel as a replay target: each operation is done to real memory of this process,
/// relocated into one reservation per traced space (mmap PROT_NONE + MAP_NORESERVE; see
/// <see cref="KernelLayout"/>), with the system call the traced program made: mmap MAP_FIXED
/// (anonymous: private + MAP_NORESERVE; file: MAP_SHARED of the space's memfd at offsets no
/// other mapping used, as the engine gives each mapping a fresh file), munmap (as mmap MAP_FIXED
/// of the reservation again, so no other thread's mmap can land in the hole), mprotect,
/// madvise(MADV_DONTNEED), UFFDIO_REGISTER / WRITEPROTECT / UNREGISTER on a userfaultfd made at
/// the first registration with the space's features, and one-byte loads and stores.
/// <para>
/// The process never takes a signal: an access the protection refuses is decided from what
/// this target mapped (<see cref="KernelRegions"/>, as the engine decides from its VMAs) and is
/// not made. A store that would block on a uffd-wp page (pagemap says uffd-wp, sync mode) runs
/// on a <see cref="BlockingWriter"/> thread while this thread reads the WRITE|WP message and
/// resolves that page, as a userfaultfd server does; the access reports the fault, done.
/// </para>
/// </summary>
public sealed unsafe class KernelTarget : IReplayTarget
{
    private const ulong Page = 4096;
    private const int FaultTimeoutMilliseconds = 10_000;
    private readonly KernelLayout _layout;
    private readonly UffdFeature _features;
    private readonly bool _async;
    private readonly nint _base;
    private readonly KernelRegions _regions = new();
    private int _memfd = -1;
    private ulong _fileNext;
    private Userfaultfd? _uffd;
    private BlockingWriter? _writer;
    private Pagemap? _pagemap;
    private bool _disposed;

    public KernelTarget(KernelLayout layout, TraceFeatures features)
    {
        _layout = layout;
        _features = UffdFeature.PagefaultFlagWp | UffdFeature.WpHugetlbfsShmem;
        if ((features & (TraceFeatures.WpUnpopulated | TraceFeatures.WpAsync)) != 0)
            _features |= UffdFeature.WpUnpopulated;
        if ((features & TraceFeatures.WpAsync) != 0)
            _features |= UffdFeature.WpAsync;
        _async = (features & TraceFeatures.WpAsync) != 0;
        _base = Reserve(layout.ReservationBytes);
        if (layout.FileBytes > 0)
        {
            _memfd = Libc.MemfdCreate("fastpt-replay", FileFlags.MfdCloexec);
            SyscallException.ThrowIf(_memfd < 0, "memfd_create(fastpt-replay)");
            if (Libc.Ftruncate(_memfd, (long)layout.FileBytes) != 0)
            {
                var e = new SyscallException($"ftruncate(memfd, {layout.FileBytes})", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
                Release();
                throw e;
            }
        }
    }

    /// <summary>A factory for the spaces of one trace: their layouts come from all its operations.</summary>
    public static ReplayTargetFactory Factory(IReadOnlyList<TraceOperation> operations)
    {
        var layouts = KernelLayout.Of(operations);
        return (space, features) => new KernelTarget(layouts.TryGetValue(space, out var l) ? l : KernelLayout.Empty, features);
    }

    /// <summary>A 1 GiB-aligned PROT_NONE reservation (the unaligned slack is returned).</summary>
    private static nint Reserve(ulong bytes)
    {
        const ulong align = 1UL << 30;
        nint r = Libc.Mmap(0, (nuint)(bytes + align), Prot.None, MapFlags.Private | MapFlags.Anonymous | MapFlags.NoReserve, -1, 0);
        SyscallException.ThrowIf(r == MapFlags.Failed, $"mmap(reserve {bytes >> 30} GiB for a replayed space)");
        nint aligned = (nint)(((ulong)r + align - 1) & ~(align - 1));
        if (aligned > r)
            Libc.Munmap(r, (nuint)(aligned - r));
        nint tail = aligned + (nint)bytes, end = r + (nint)(bytes + align);
        if (end > tail)
            Libc.Munmap(tail, (nuint)(end - tail));
        return aligned;
    }

    private nint Real(ulong va, ulong length) => _base + (nint)_layout.Offset(va, length);

    public void MapRegion(ulong start, ulong length, TraceRegionKind kind, TraceProtection protection)
    {
        ulong end = start + length;
        if (_regions.Overlaps(start, end))
            throw new InvalidOperationException($"[0x{start:X}, 0x{end:X}) overlaps an existing mapping; unmap it first");
        nint at = Real(start, length);
        var region = new KernelRegion { Start = start, End = end, Kind = kind, Protection = protection };
        nint mapped;
        if (kind == TraceRegionKind.File)
        {
            // Fresh offsets, 2 MiB-aligned plus the address's offset in its 2 MiB.
            ulong offset = ((_fileNext + (2UL << 20) - 1) & ~((2UL << 20) - 1)) + ((ulong)at & ((2UL << 20) - 1));
            if (_memfd < 0 || offset + length > _layout.FileBytes)
                throw new InvalidOperationException($"0x{start:X}+0x{length:X}: the space's memfd has no room left (the layout is made from the whole trace; was it made from another one?)");
            _fileNext = offset + length;
            region.FileOffset = offset;
            mapped = Libc.Mmap(at, (nuint)length, ProtOf(protection), MapFlags.Shared | MapFlags.Fixed, _memfd, (long)offset);
        }
        else
            mapped = Libc.Mmap(at, (nuint)length, ProtOf(protection), MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed | MapFlags.NoReserve, -1, 0);
        SyscallException.ThrowIf(mapped == MapFlags.Failed, $"mmap(0x{start:X}+0x{length:X} at 0x{at:X}, {kind}, {protection})");
        if (ThpPolicy.MustOptOut(kind))
            SyscallException.ThrowIf(Libc.Madvise(at, (nuint)length, Madv.NoHugePage) != 0, $"madvise(0x{at:X}+0x{length:X}, MADV_NOHUGEPAGE)");
        _regions.Add(region);
    }

    public void Unmap(ulong start, ulong length)
    {
        nint at = Real(start, length);
        nint r = Libc.Mmap(at, (nuint)length, Prot.None, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed | MapFlags.NoReserve, -1, 0);
        SyscallException.ThrowIf(r == MapFlags.Failed, $"mmap(reservation over unmapped 0x{start:X}+0x{length:X})");
        _regions.Remove(start, start + length);
    }

    public TraceAccessOutcome Access(ulong address, bool write)
    {
        if (!_regions.TryFind(address, out var region) || !region.Allows(write))
            return TraceAccessOutcome.Segv;
        nint at = Real(address, 1);
        if (!write)
        {
            _ = Volatile.Read(ref *(byte*)at); // a load never waits on a write-protect registration
            return TraceAccessOutcome.Completed;
        }
        if (region.Registered && !_async && (PagemapFile.Read(at) & PagemapBits.UffdWp) != 0)
        {
            _writer ??= new BlockingWriter();
            return _writer.Write(at, _uffd!, FaultTimeoutMilliseconds) > 0 ? TraceAccessOutcome.WpFault : TraceAccessOutcome.Completed;
        }
        Volatile.Write(ref *(byte*)at, (byte)1);
        return TraceAccessOutcome.Completed;
    }

    public void Protect(ulong start, ulong length, TraceProtection protection)
    {
        ulong end = start + length;
        _regions.RequireMapped(start, end);
        SyscallException.ThrowIf(Libc.Mprotect(Real(start, length), (nuint)length, ProtOf(protection)) != 0,
            $"mprotect(0x{start:X}+0x{length:X}, {protection})");
        _regions.SetProtection(start, end, protection);
    }

    public void Zap(ulong start, ulong length)
    {
        _regions.RequireMapped(start, start + length);
        SyscallException.ThrowIf(Libc.Madvise(Real(start, length), (nuint)length, Madv.DontNeed) != 0,
            $"madvise(0x{start:X}+0x{length:X}, MADV_DONTNEED)");
    }

    /// <summary>Flags are per userfaultfd (the space's features, as in the engine); per-call flags are ignored.</summary>
    public void RegisterWp(ulong start, ulong length, int flags)
    {
        ulong end = start + length;
        _regions.RequireMapped(start, end);
        _uffd ??= new Userfaultfd(_features);
        _uffd.Register(Real(start, length), (nuint)length, UffdConstants.RegisterModeWp);
        _regions.SetRegistered(start, end, true);
    }

    public void WriteProtect(ulong start, ulong length, bool protect)
    {
        ulong end = start + length;
        _regions.RequireMapped(start, end);
        _regions.RequireRegistered(start, end);
        _uffd!.WriteProtect(Real(start, length), (nuint)length, protect);
    }

    public void Unregister(ulong start, ulong length)
    {
        ulong end = start + length;
        if (_uffd is null || !_regions.AnyRegistered(start, end))
            return;
        _regions.ForEachMapped(start, end, (s, e) => _uffd.Unregister(Real(s, e - s), (nuint)(e - s)));
        _regions.SetRegistered(start, end, false);
    }

    /// <summary>/proc/self/pagemap of the page's real address.</summary>
    public ulong Pagemap(ulong address) => PagemapFile.Read(Real(address & ~(Page - 1), Page));

    private Pagemap PagemapFile => _pagemap ??= new Pagemap();

    private static int ProtOf(TraceProtection p) => p switch
    {
        TraceProtection.None => Prot.None,
        TraceProtection.Read => Prot.Read,
        _ => Prot.ReadWrite,
    };

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        // Closing the userfaultfd wakes any store still blocked on it, so the writer can finish.
        _uffd?.Dispose();
        _writer?.Dispose();
        _pagemap?.Dispose();
        Release();
    }

    private void Release()
    {
        Libc.Munmap(_base, (nuint)_layout.ReservationBytes);
        if (_memfd >= 0)
            Libc.Close(_memfd);
        _memfd = -1;
    }
}
