namespace FastPT.Kvm.Interop;

/// <summary>KVM ioctl request numbers (from the stable KVM ABI: type 0xAE, direction and size encoded).</summary>
internal static class KvmIoctl
{
    public const ulong GetApiVersion = 0xAE00;
    public const ulong CreateVm = 0xAE01;
    public const ulong CheckExtension = 0xAE03;
    public const ulong GetVcpuMmapSize = 0xAE04;
    public const ulong GetSupportedCpuid = 0xC008AE05;   // _IOWR(0xAE, 0x05, struct kvm_cpuid2)
    public const ulong CreateVcpu = 0xAE41;
    public const ulong GetDirtyLog = 0x4010AE42;         // _IOW(0xAE, 0x42, struct kvm_dirty_log)
    public const ulong SetUserMemoryRegion = 0x4020AE46; // _IOW(0xAE, 0x46, struct kvm_userspace_memory_region)
    public const ulong EnableCap = 0x4068AEA3;           // _IOW(0xAE, 0xa3, struct kvm_enable_cap)
    public const ulong ClearDirtyLog = 0xC018AEC0;       // _IOWR(0xAE, 0xc0, struct kvm_clear_dirty_log)
    public const ulong Run = 0xAE80;
    public const ulong GetRegs = 0x8090AE81;             // _IOR(0xAE, 0x81, struct kvm_regs)
    public const ulong SetRegs = 0x4090AE82;
    public const ulong GetSregs = 0x8138AE83;            // _IOR(0xAE, 0x83, struct kvm_sregs)
    public const ulong SetSregs = 0x4138AE84;
    public const ulong SetSignalMask = 0x4004AE8B;       // _IOW(0xAE, 0x8b, struct kvm_signal_mask)
    public const ulong SetCpuid2 = 0x4008AE90;           // _IOW(0xAE, 0x90, struct kvm_cpuid2)

    public const int CapManualDirtyLogProtect2 = 168;
    public const uint MemLogDirtyPages = 1;
}

/// <summary>kvm_run.exit_reason values.</summary>
public enum KvmExitReason : uint
{
    Unknown = 0,
    Exception = 1,
    Io = 2,
    Hypercall = 3,
    Debug = 4,
    Hlt = 5,
    Mmio = 6,
    IrqWindowOpen = 7,
    Shutdown = 8,
    FailEntry = 9,
    Intr = 10,
    InternalError = 17,
    SystemEvent = 24,
}
