using System.Runtime.InteropServices;

namespace FastPT.Benchmarks.Kernel;

/// <summary>
/// The few libc calls the kernel baselines need (userfaultfd, memfd, mmap, PAGEMAP_SCAN),
/// kept private to the benchmarks so they do not wait for FastPT.Linux; the lead may replace
/// them with that project's API. ABI numbers from the fact sheet, section 7.
/// </summary>
internal static unsafe partial class KernelBaselineInterop
{
    public const int SysUserfaultfd = 323;
    public const int OCloexec = 0x80000, ONonblock = 0x800;
    public const ulong UffdioApi = 0xC018AA3F, UffdioRegister = 0xC020AA00, UffdioWriteprotect = 0xC018AA06;
    public const ulong PagemapScan = 0xC0606610;
    public const ulong FeatureWpHugetlbfsShmem = 1 << 12, FeatureWpUnpopulated = 1 << 13, FeatureWpAsync = 1 << 15;
    public const int ProtRead = 1, ProtWrite = 2, MapShared = 1, MapPrivate = 2, MapAnonymous = 0x20, MapNoReserve = 0x4000;
    public const int MadvPopulateWrite = 23;

    [StructLayout(LayoutKind.Sequential)]
    public struct UffdioApiArg { public ulong Api, Features, Ioctls; }

    [StructLayout(LayoutKind.Sequential)]
    public struct UffdioRegisterArg { public ulong Start, Len, Mode, Ioctls; }

    [StructLayout(LayoutKind.Sequential)]
    public struct UffdioWriteprotectArg { public ulong Start, Len, Mode; }

    [StructLayout(LayoutKind.Sequential)]
    public struct PmScanArg
    {
        public ulong Size, Flags, Start, End, WalkEnd, Vec, VecLen, MaxPages, CategoryInverted, CategoryMask, CategoryAnyofMask, ReturnMask;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PageRegion { public ulong Start, End, Categories; }

    [LibraryImport("libc", SetLastError = true)]
    public static partial long syscall(long number, long a0);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int madvise(void* addr, nuint length, int advice);

    public static void Check(long rc, string what)
    {
        if (rc < 0)
            throw new InvalidOperationException($"{what} failed: errno {Marshal.GetLastPInvokeError()} ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())})");
    }

    /// <summary>A userfaultfd with the API handshake done for the given features.</summary>
    public static int OpenUffd(ulong features)
    {
        long fd = syscall(SysUserfaultfd, OCloexec | ONonblock);
        Check(fd, "userfaultfd(2) (needs root or vm.unprivileged_userfaultfd=1)");
        var api = new UffdioApiArg { Api = 0xAA, Features = features };
        Check(ioctl((int)fd, UffdioApi, &api), "UFFDIO_API");
        return (int)fd;
    }

    public static void Register(int uffd, void* start, ulong len)
    {
        var reg = new UffdioRegisterArg { Start = (ulong)start, Len = len, Mode = 2 /* WP */ };
        Check(ioctl(uffd, UffdioRegister, &reg), "UFFDIO_REGISTER(WP)");
    }

    public static void WriteProtect(int uffd, void* start, ulong len, bool protect)
    {
        var wp = new UffdioWriteprotectArg { Start = (ulong)start, Len = len, Mode = protect ? 1UL : 0 };
        Check(ioctl(uffd, UffdioWriteprotect, &wp), "UFFDIO_WRITEPROTECT");
    }
}
