using System.Runtime.InteropServices;

namespace FastPT.Kvm.Interop;

/// <summary>The few libc calls a VMM needs. All return -1 and set errno on failure.</summary>
internal static unsafe partial class Libc
{
    public const int O_RDWR = 2;
    public const int O_CLOEXEC = 0x80000;
    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;
    public const int MAP_PRIVATE = 2;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_NORESERVE = 0x4000;
    public const int SIG_BLOCK = 0;
    public const int SIG_UNBLOCK = 1;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const long SYS_gettid = 186;
    public const long SYS_tgkill = 234;
    public const long SYS_rt_sigtimedwait = 128;
    public const long SYS_rt_sigprocmask = 14;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, nint argument);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "getpid")]
    public static partial int GetPid();

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, long a1, long a2, long a3, long a4);

    public static int GetTid() => (int)Syscall(SYS_gettid, 0, 0, 0, 0);

    public static string LastError() => Marshal.GetLastPInvokeErrorMessage() + " (errno " + Marshal.GetLastPInvokeError() + ")";
}
