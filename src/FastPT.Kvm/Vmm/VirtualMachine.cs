using FastPT.Kvm.Interop;
using FastPT.Linux.Interop;

namespace FastPT.Kvm.Vmm;

/// <summary>
/// A KVM VM with guest RAM at guest-physical 0 (slot 0), optionally more RAM in further slots
/// (<see cref="AddMemory"/>, leaving holes between, as a PC has below and above its PCI hole),
/// and one vCPU whose CPUID is everything KVM supports (plus any requested extras), so the
/// guest may use what the backend offers.
/// </summary>
public sealed unsafe class VirtualMachine : IDisposable
{
    private const uint Slot = 0;
    private readonly int _kvmFd;
    private readonly int _vmFd;
    private readonly List<(uint Slot, ulong GuestPhysical, GuestMemory Memory)> _more = [];
    private bool _dirtyLogging;
    private bool _disposed;

    /// <param name="memorySize">Guest RAM size (multiple of 2 MiB).</param>
    /// <param name="extras">Features to offer beyond KVM_GET_SUPPORTED_CPUID (see <see cref="ExtraGuestFeatures"/>).</param>
    public VirtualMachine(ulong memorySize, ExtraGuestFeatures extras = ExtraGuestFeatures.None)
    {
        _kvmFd = KvmSystem.OpenDevice();
        try
        {
            _vmFd = Libc.Ioctl(_kvmFd, KvmIoctl.CreateVm, 0);
            if (_vmFd < 0)
                throw new KvmException($"KVM_CREATE_VM: {Errno.DescribeLast()}");
            Cpuid = KvmSystem.SupportedCpuid(_kvmFd);
            if (extras != ExtraGuestFeatures.None)
                HostCpu.AddPagingFeatures(Cpuid, extras);
            Features = GuestCpuFeatures.From(Cpuid);
            Memory = new GuestMemory(memorySize);
            SetSlot(0);
            int mmapSize = Libc.Ioctl(_kvmFd, KvmIoctl.GetVcpuMmapSize, 0);
            if (mmapSize <= 0)
                throw new KvmException($"KVM_GET_VCPU_MMAP_SIZE: {Errno.DescribeLast()}");
            Vcpu = new Vcpu(_vmFd, mmapSize);
            Vcpu.SetCpuid(Cpuid);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public GuestMemory Memory { get; } = null!;

    /// <summary>
    /// Adds guest RAM at <paramref name="guestPhysical"/> as its own memory slot (a multiple of
    /// 2 MiB, above the RAM at 0, not overlapping other slots). The dirty log and the shadow
    /// sweeps cover slot 0 only.
    /// </summary>
    public GuestMemory AddMemory(ulong guestPhysical, ulong size)
    {
        if ((guestPhysical & 0x1F_FFFF) != 0 || guestPhysical < Memory.Size)
            throw new ArgumentOutOfRangeException(nameof(guestPhysical), $"more guest RAM goes 2 MiB-aligned above the RAM at 0 (0x{Memory.Size:X} bytes), not at 0x{guestPhysical:X}");
        foreach (var (_, at, m) in _more)
        {
            if (guestPhysical < at + m.Size && at < guestPhysical + size)
                throw new ArgumentException($"guest RAM at 0x{guestPhysical:X} + 0x{size:X} overlaps the slot at 0x{at:X}");
        }
        var memory = new GuestMemory(size);
        uint slot = (uint)_more.Count + 1;
        var region = new KvmUserspaceMemoryRegion { Slot = slot, GuestPhysAddr = guestPhysical, MemorySize = size, UserspaceAddr = (ulong)memory.HostBase };
        if (Libc.Ioctl(_vmFd, KvmIoctl.SetUserMemoryRegion, &region) < 0)
        {
            string why = Errno.DescribeLast();
            memory.Dispose();
            throw new KvmException($"KVM_SET_USER_MEMORY_REGION (slot {slot} at 0x{guestPhysical:X}): {why}");
        }
        _more.Add((slot, guestPhysical, memory));
        return memory;
    }

    /// <summary>Every region of guest RAM as (guest-physical base, memory), slot 0 first.</summary>
    public IEnumerable<(ulong GuestPhysical, GuestMemory Memory)> Regions =>
        _more.Select(m => (m.GuestPhysical, m.Memory)).Prepend((0UL, Memory));

    public Vcpu Vcpu { get; } = null!;

    public KvmCpuidEntry[] Cpuid { get; } = [];

    public GuestCpuFeatures Features { get; } = null!;

    /// <summary>
    /// Turns KVM's dirty log on or off for guest RAM. With shadow paging, turning it on
    /// write-protects every shadow entry, and each <see cref="GetDirtyLog"/> write-protects
    /// again the pages it reports; that is how the VMM makes KVM re-walk the guest's tables
    /// after the host edited them behind KVM's back (see docs/kvm.md).
    /// </summary>
    public void SetDirtyLogging(bool on)
    {
        if (on == _dirtyLogging)
            return;
        SetSlot(on ? KvmIoctl.MemLogDirtyPages : 0);
        _dirtyLogging = on;
    }

    /// <summary>KVM_GET_DIRTY_LOG into a bitmap of one bit per 4 KiB guest page (Memory.Size / 4096 bits).</summary>
    public void GetDirtyLog(Span<ulong> bitmap)
    {
        if (!_dirtyLogging)
            throw new InvalidOperationException("dirty logging is off: call SetDirtyLogging(true) first");
        ulong pages = Memory.Size / 4096;
        if ((ulong)bitmap.Length * 64 < pages)
            throw new ArgumentException($"the bitmap needs {pages} bits ({(pages + 63) / 64} ulongs)", nameof(bitmap));
        fixed (ulong* b = bitmap)
        {
            var log = new KvmDirtyLog { Slot = Slot, DirtyBitmap = (ulong)b };
            if (Libc.Ioctl(_vmFd, KvmIoctl.GetDirtyLog, &log) < 0)
                throw new KvmException($"KVM_GET_DIRTY_LOG: {Errno.DescribeLast()}");
        }
    }

    /// <summary>
    /// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: from now on KVM_GET_DIRTY_LOG only reports and
    /// <see cref="ClearDirtyLog"/> re-protects by mask. Call before <see cref="SetDirtyLogging"/>.
    /// Returns false, changing nothing, when the backend does not offer it.
    /// </summary>
    public bool EnableManualDirtyLogProtect()
    {
        if (_dirtyLogging)
            throw new InvalidOperationException("enable manual dirty-log protection before dirty logging is turned on");
        if (Libc.Ioctl(_vmFd, KvmIoctl.CheckExtension, KvmIoctl.CapManualDirtyLogProtect2) <= 0)
            return false;
        var cap = new KvmEnableCap { Cap = KvmIoctl.CapManualDirtyLogProtect2 };
        cap.Args[0] = 1;   // KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE
        if (Libc.Ioctl(_vmFd, KvmIoctl.EnableCap, &cap) < 0)
            throw new KvmException($"KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2): {Errno.DescribeLast()}");
        return true;
    }

    /// <summary>KVM_CLEAR_DIRTY_LOG of slot 0: re-protects the pages set in <paramref name="bitmap"/>, bit k = page firstPage + k.</summary>
    public void ClearDirtyLog(ulong firstPage, ReadOnlySpan<ulong> bitmap)
    {
        ulong pages = Math.Min((ulong)bitmap.Length * 64, Memory.Size / 4096 - firstPage);
        fixed (ulong* b = bitmap)
        {
            var log = new KvmClearDirtyLog { Slot = Slot, FirstPage = firstPage, NumPages = (uint)pages, DirtyBitmap = (ulong)b };
            if (Libc.Ioctl(_vmFd, KvmIoctl.ClearDirtyLog, &log) < 0)
                throw new KvmException($"KVM_CLEAR_DIRTY_LOG: {Errno.DescribeLast()}");
        }
    }

    /// <summary>
    /// Makes KVM forget every writable shadow translation of guest RAM (a write-protect
    /// sweep through the dirty log), so the next guest write re-walks the guest's tables.
    /// Safe while the vCPU runs on another thread.
    /// </summary>
    public void ShadowWriteFlush()
    {
        if (!_dirtyLogging)
        {
            SetDirtyLogging(true);
            return;
        }
        Span<ulong> scratch = new ulong[(Memory.Size / 4096 + 63) / 64];
        GetDirtyLog(scratch);
    }

    /// <summary>
    /// Makes KVM drop every shadow page table (delete and re-add the memory slot), so the next
    /// access of any kind re-walks the guest's tables. The vCPU must not be running.
    /// </summary>
    public void ShadowZapAll()
    {
        var region = new KvmUserspaceMemoryRegion { Slot = Slot, GuestPhysAddr = 0, MemorySize = 0, UserspaceAddr = (ulong)Memory.HostBase };
        if (Libc.Ioctl(_vmFd, KvmIoctl.SetUserMemoryRegion, &region) < 0)
            throw new KvmException($"KVM_SET_USER_MEMORY_REGION (delete slot): {Errno.DescribeLast()}");
        SetSlot(_dirtyLogging ? KvmIoctl.MemLogDirtyPages : 0);
    }

    private void SetSlot(uint flags)
    {
        var region = new KvmUserspaceMemoryRegion
        {
            Slot = Slot,
            Flags = flags,
            GuestPhysAddr = 0,
            MemorySize = Memory.Size,
            UserspaceAddr = (ulong)Memory.HostBase,
        };
        if (Libc.Ioctl(_vmFd, KvmIoctl.SetUserMemoryRegion, &region) < 0)
            throw new KvmException($"KVM_SET_USER_MEMORY_REGION (flags {flags}): {Errno.DescribeLast()}");
    }

    /// <summary>Idempotent: a second call must not close fd numbers the process has reused since.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Vcpu?.Dispose();
        if (_vmFd > 0)
            Libc.Close(_vmFd);
        Memory?.Dispose();
        foreach (var (_, _, m) in _more)
            m.Dispose();
        if (_kvmFd > 0)
            Libc.Close(_kvmFd);
    }
}
