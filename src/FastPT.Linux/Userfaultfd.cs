using FastPT.Linux.Interop;

namespace FastPT.Linux;

/// <summary>
/// One userfaultfd: created non-blocking and close-on-exec, API handshake done in the
/// constructor with the requested features (all must be available, else EINVAL).
/// </summary>
public sealed unsafe class Userfaultfd : IDisposable
{
    private int _fd;

    public Userfaultfd(UffdFeature features)
    {
        _fd = Create();
        try
        {
            var api = new UffdioApi { Api = UffdConstants.Api, Features = (ulong)features };
            SyscallException.ThrowIf(Libc.Ioctl(_fd, UffdConstants.IocApi, &api) != 0,
                $"ioctl(UFFDIO_API, features=0x{(ulong)features:X})");
            AvailableFeatures = (UffdFeature)api.Features;
            AvailableIoctls = api.Ioctls;
        }
        catch
        {
            Libc.Close(_fd);
            throw;
        }
        Features = features;
    }

    public int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(Userfaultfd));

    /// <summary>The features requested (and granted).</summary>
    public UffdFeature Features { get; }

    /// <summary>The features field the kernel returned from UFFDIO_API.</summary>
    public UffdFeature AvailableFeatures { get; }

    public ulong AvailableIoctls { get; }

    /// <summary>syscall(userfaultfd), falling back to /dev/userfaultfd + USERFAULTFD_IOC_NEW.</summary>
    private static int Create()
    {
        const int flags = FileFlags.CloseOnExec | FileFlags.NonBlock;
        long fd = Libc.Syscall(SyscallNumber.Userfaultfd, flags);
        if (fd >= 0)
            return (int)fd;
        var firstError = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        int dev = Libc.Open("/dev/userfaultfd", FileFlags.ReadWrite | FileFlags.CloseOnExec);
        if (dev < 0)
            throw new SyscallException("userfaultfd (syscall 323, then open /dev/userfaultfd)", firstError);
        try
        {
            int ufd = Libc.Ioctl(dev, UffdConstants.IocNew, (ulong)flags);
            SyscallException.ThrowIf(ufd < 0, "ioctl(/dev/userfaultfd, USERFAULTFD_IOC_NEW)");
            return ufd;
        }
        finally
        {
            Libc.Close(dev);
        }
    }

    /// <summary>UFFDIO_REGISTER; returns the ioctls bitmask the kernel allows on the range.</summary>
    public ulong Register(nint start, nuint length, ulong mode)
    {
        var reg = new UffdioRegister { Range = new UffdioRange { Start = (ulong)start, Length = length }, Mode = mode };
        SyscallException.ThrowIf(Libc.Ioctl(Fd, UffdConstants.IocRegister, &reg) != 0,
            $"ioctl(UFFDIO_REGISTER, 0x{start:X}+0x{length:X}, mode={mode})");
        return reg.Ioctls;
    }

    /// <summary>UFFDIO_UNREGISTER.</summary>
    public void Unregister(nint start, nuint length)
    {
        var range = new UffdioRange { Start = (ulong)start, Length = length };
        SyscallException.ThrowIf(Libc.Ioctl(Fd, UffdConstants.IocUnregister, &range) != 0,
            $"ioctl(UFFDIO_UNREGISTER, 0x{start:X}+0x{length:X})");
    }

    /// <summary>UFFDIO_WRITEPROTECT with mode WP (protect) or 0, optionally DONTWAKE.</summary>
    public void WriteProtect(nint start, nuint length, bool protect, bool dontWake = false)
    {
        ulong mode = (protect ? UffdConstants.WriteProtectModeWp : 0) | (dontWake ? UffdConstants.WriteProtectModeDontWake : 0);
        var wp = new UffdioWriteProtect { Range = new UffdioRange { Start = (ulong)start, Length = length }, Mode = mode };
        SyscallException.ThrowIf(Libc.Ioctl(Fd, UffdConstants.IocWriteProtect, &wp) != 0,
            $"ioctl(UFFDIO_WRITEPROTECT, 0x{start:X}+0x{length:X}, mode={mode})");
    }

    /// <summary>UFFDIO_WAKE.</summary>
    public void Wake(nint start, nuint length)
    {
        var range = new UffdioRange { Start = (ulong)start, Length = length };
        SyscallException.ThrowIf(Libc.Ioctl(Fd, UffdConstants.IocWake, &range) != 0,
            $"ioctl(UFFDIO_WAKE, 0x{start:X}+0x{length:X})");
    }

    /// <summary>Reads one message; false when none is queued (the fd is non-blocking).</summary>
    public bool TryReadMessage(out UffdMessage message)
    {
        UffdMessage msg;
        nint n = Libc.Read(Fd, &msg, (nuint)sizeof(UffdMessage));
        if (n < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == Errno.EAGAIN)
            {
                message = default;
                return false;
            }
            throw new SyscallException("read(userfaultfd)", errno);
        }
        if (n != sizeof(UffdMessage))
            throw new InvalidOperationException($"read(userfaultfd) returned {n} bytes, expected {sizeof(UffdMessage)}");
        message = msg;
        return true;
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for a message and reads it.</summary>
    public bool ReadMessage(int timeoutMilliseconds, out UffdMessage message)
    {
        var pfd = new PollFd { Fd = Fd, Events = FileFlags.PollIn };
        int r = Libc.Poll(&pfd, 1, timeoutMilliseconds);
        SyscallException.ThrowIf(r < 0, "poll(userfaultfd)");
        if (r == 0)
        {
            message = default;
            return false;
        }
        return TryReadMessage(out message);
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            Libc.Close(_fd);
            _fd = -1;
        }
    }
}
