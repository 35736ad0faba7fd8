using FastPT.Linux.Interop;

namespace FastPT.Linux;

/// <summary>
/// Performs stores on a worker thread so a store that hits a userfaultfd write-protected page
/// may block in the kernel (no signal is involved) while the calling thread serves the
/// userfaultfd: it reads the WRITE|WP message, unprotects that one page (which wakes the
/// worker), and waits for the store to complete. An eventfd reports completion so one poll
/// watches both. A store that neither completes nor faults in time, or a message that is not the
/// store's WRITE|WP fault, throws <see cref="UserfaultfdServeException"/>.
/// </summary>
public sealed unsafe class BlockingWriter : IDisposable
{
    private readonly SemaphoreSlim _request = new(0);
    private readonly Thread _thread;
    private readonly int _eventFd;
    private nint _address;
    private volatile bool _stop;

    public BlockingWriter()
    {
        _eventFd = Libc.Eventfd(0, FileFlags.CloseOnExec | FileFlags.NonBlock);
        SyscallException.ThrowIf(_eventFd < 0, "eventfd");
        _thread = new Thread(Loop) { IsBackground = true, Name = "fastpt-kernel-writer" };
        _thread.Start();
    }

    private void Loop()
    {
        while (true)
        {
            _request.Wait();
            if (_stop)
                return;
            // Through native code, not a managed store: while blocked on the userfaultfd the
            // thread must be in preemptive mode, or a GC started meanwhile by another thread
            // would wait for it while the serving thread waits for the GC (deadlock).
            Libc.Memset(Volatile.Read(ref _address), 1, 1);
            ulong one = 1;
            Libc.Write(_eventFd, &one, 8);
        }
    }

    /// <summary>Stores one byte at <paramref name="address"/>; returns the number of wp faults resolved.</summary>
    public int Write(nint address, Userfaultfd uffd, int timeoutMilliseconds)
    {
        Volatile.Write(ref _address, address);
        _request.Release();
        int faults = 0;
        long deadline = Environment.TickCount64 + timeoutMilliseconds;
        var fds = stackalloc PollFd[2];
        while (true)
        {
            int remaining = (int)Math.Max(0, deadline - Environment.TickCount64);
            fds[0] = new PollFd { Fd = uffd.Fd, Events = FileFlags.PollIn };
            fds[1] = new PollFd { Fd = _eventFd, Events = FileFlags.PollIn };
            int r = Libc.Poll(fds, 2, remaining);
            if (r < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Errno.EINTR)
                continue;
            SyscallException.ThrowIf(r < 0, "poll(userfaultfd, eventfd)");
            if (r == 0)
                throw new UserfaultfdServeException(
                    $"a store to 0x{address:X} did not complete within {timeoutMilliseconds} ms and no userfaultfd message arrived");
            if ((fds[0].Revents & FileFlags.PollIn) != 0)
            {
                while (uffd.TryReadMessage(out var msg))
                {
                    nint page = address & ~(nint)4095;
                    const ulong expected = UffdConstants.PagefaultFlagWrite | UffdConstants.PagefaultFlagWp;
                    if (msg.Event != UffdConstants.EventPagefault || msg.PagefaultFlags != expected || (nint)msg.PagefaultAddress != page)
                        throw new UserfaultfdServeException(
                            $"unexpected userfaultfd message for a store to 0x{address:X}: {msg} (expected event 0x12, flags 0x3)");
                    uffd.WriteProtect(page, 4096, protect: false);
                    faults++;
                }
            }
            if ((fds[1].Revents & FileFlags.PollIn) != 0)
            {
                ulong value;
                Libc.Read(_eventFd, &value, 8);
                return faults;
            }
        }
    }

    /// <summary>Stops the worker; call after the userfaultfd is closed so a blocked store can finish.</summary>
    public void Dispose()
    {
        _stop = true;
        _request.Release();
        _thread.Join(TimeSpan.FromSeconds(5));
        Libc.Close(_eventFd);
        _request.Dispose();
    }
}
