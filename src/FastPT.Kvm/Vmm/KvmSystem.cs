using FastPT.Kvm.Interop;
using FastPT.Linux.Interop;

namespace FastPT.Kvm.Vmm;

/// <summary>/dev/kvm itself: availability, API version, the CPUID the host can give a guest.</summary>
public static unsafe class KvmSystem
{
    public const string DevicePath = "/dev/kvm";

    /// <summary>Why KVM cannot be used here, or null when it can (device present and openable, API 12).</summary>
    public static string? UnavailableReason()
    {
        if (!OperatingSystem.IsLinux())
            return "KVM needs Linux";
        if (!File.Exists(DevicePath))
            return $"{DevicePath} is absent (no KVM on this machine)";
        int fd = Libc.Open(DevicePath, FileFlags.ReadWrite | FileFlags.CloseOnExec);
        if (fd < 0)
            return $"cannot open {DevicePath}: {Errno.DescribeLast()}";
        try
        {
            int version = Libc.Ioctl(fd, KvmIoctl.GetApiVersion, 0);
            return version == 12 ? null : $"KVM API version {version}, expected 12";
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    public static bool IsAvailable => UnavailableReason() is null;

    internal static int OpenDevice()
    {
        int fd = Libc.Open(DevicePath, FileFlags.ReadWrite | FileFlags.CloseOnExec);
        if (fd < 0)
            throw new KvmException($"open {DevicePath}: {Errno.DescribeLast()}");
        return fd;
    }

    /// <summary>KVM_GET_SUPPORTED_CPUID: every leaf the host can offer a guest.</summary>
    public static KvmCpuidEntry[] SupportedCpuid()
    {
        int fd = OpenDevice();
        try
        {
            return SupportedCpuid(fd);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    internal static KvmCpuidEntry[] SupportedCpuid(int kvmFd)
    {
        const int max = 256;
        int bytes = 8 + max * sizeof(KvmCpuidEntry);
        byte* buffer = stackalloc byte[bytes];
        new Span<byte>(buffer, bytes).Clear();
        *(uint*)buffer = max;
        if (Libc.Ioctl(kvmFd, KvmIoctl.GetSupportedCpuid, buffer) < 0)
            throw new KvmException($"KVM_GET_SUPPORTED_CPUID: {Errno.DescribeLast()}");
        int count = (int)*(uint*)buffer;
        return new ReadOnlySpan<KvmCpuidEntry>(buffer + 8, count).ToArray();
    }
}
