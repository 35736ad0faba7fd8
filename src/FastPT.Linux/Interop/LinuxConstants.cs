using System.Runtime.InteropServices;

namespace FastPT.Linux.Interop;

/// <summary>mmap/mprotect protections.</summary>
public static class Prot
{
    public const int None = 0x0;
    public const int Read = 0x1;
    public const int Write = 0x2;
    public const int ReadWrite = Read | Write;
}

/// <summary>mmap flags (x86-64).</summary>
public static class MapFlags
{
    public const int Shared = 0x01;
    public const int Private = 0x02;
    public const int Fixed = 0x10;
    public const int Anonymous = 0x20;
    public const int NoReserve = 0x4000;
    public const int FixedNoReplace = 0x100000;
    public static readonly nint Failed = -1;
}

/// <summary>madvise advice values.</summary>
public static class Madv
{
    public const int DontNeed = 4;
    public const int HugePage = 14;
    public const int NoHugePage = 15;
}

/// <summary>open/eventfd/memfd/poll flag values (x86-64).</summary>
public static class FileFlags
{
    public const int ReadOnly = 0x0;
    public const int ReadWrite = 0x2;
    public const int NonBlock = 0x800;
    public const int CloseOnExec = 0x80000;
    public const uint MfdCloexec = 0x1;
    public const short PollIn = 0x1;
    public const short PollErr = 0x8;
    public const short PollHup = 0x10;
}

/// <summary>x86-64 system call numbers for calls libc does not wrap (or wraps only in new versions).</summary>
public static class SyscallNumber
{
    public const long RtSigprocmask = 14;
    public const long RtSigtimedwait = 128;
    public const long Gettid = 186;
    public const long TimerCreate = 222;
    public const long TimerSettime = 223;
    public const long TimerDelete = 226;
    public const long Userfaultfd = 323;
}

/// <summary>Clock ids (clock_gettime, timer_create).</summary>
public static class Clock
{
    public const int Monotonic = 1;
}

/// <summary>struct sigevent's sigev_notify: how a timer reports its expiry.</summary>
public static class SigEvent
{
    /// <summary>SIGEV_THREAD_ID: send the signal to one thread (its id follows sigev_notify).</summary>
    public const int ThreadId = 4;
}

/// <summary>rt_sigprocmask's how argument.</summary>
public static class SigMask
{
    public const int Block = 0;
    public const int Unblock = 1;
}

/// <summary>errno values this project names in its errors.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11, ENOMEM = 12,
        EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22, ENFILE = 23,
        EMFILE = 24, ENOTTY = 25, ENOSPC = 28, ERANGE = 34, ENOSYS = 38, EOPNOTSUPP = 95;

    /// <summary>The symbolic name (EINVAL), or "errno N" for one not in the table.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", EINTR => "EINTR", EIO => "EIO", EBADF => "EBADF",
        EAGAIN => "EAGAIN", ENOMEM => "ENOMEM", EACCES => "EACCES", EFAULT => "EFAULT", EBUSY => "EBUSY",
        EEXIST => "EEXIST", ENODEV => "ENODEV", EINVAL => "EINVAL", ENFILE => "ENFILE", EMFILE => "EMFILE",
        ENOTTY => "ENOTTY", ENOSPC => "ENOSPC", ERANGE => "ERANGE", ENOSYS => "ENOSYS", EOPNOTSUPP => "EOPNOTSUPP",
        _ => $"errno {errno}",
    };

    /// <summary>"EINVAL (Invalid argument)": the symbolic name and the C library's text.</summary>
    public static string Describe(int errno) => $"{Name(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";

    /// <summary><see cref="Describe"/> for the errno of the last P/Invoke with SetLastError on this thread.</summary>
    public static string DescribeLast() => Describe(Marshal.GetLastPInvokeError());
}
