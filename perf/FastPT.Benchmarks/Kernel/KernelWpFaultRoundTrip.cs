using FastPT.Linux;
using FastPT.Linux.Interop;

namespace FastPT.Benchmarks.Kernel;

/// <summary>
/// The kernel's synchronous uffd-wp fault round trip: a worker thread stores one byte into
/// each page of a write-protected shmem range through libc memset (so while it is blocked in
/// the fault it is in native code and a GC never waits for it); the timing thread reads each
/// WRITE|WP message, unprotects that one page with UFFDIO_WRITEPROTECT mode 0 (which wakes the
/// worker) and goes on to the next message. Time per round trip = total / pages.
/// </summary>
public sealed unsafe class KernelWpFaultRoundTrip : IDisposable
{
    private const int TimeoutMilliseconds = 10_000;
    private readonly int _memfd;
    private readonly nint _addr;
    private readonly Userfaultfd _uffd;
    private readonly Thread _worker;
    private readonly SemaphoreSlim _go = new(0), _done = new(0);
    private volatile bool _stop;

    public KernelWpFaultRoundTrip(int pages)
    {
        if (pages < 1)
            throw new ArgumentOutOfRangeException(nameof(pages), pages, "need at least one page");
        Pages = pages;
        ulong bytes = (ulong)pages << 12;
        _memfd = KernelMemory.Memfd(bytes);
        _addr = KernelMemory.Map(bytes, MapFlags.Shared, _memfd);
        KernelMemory.Populate(_addr, bytes);
        _uffd = new Userfaultfd(UffdFeature.WpHugetlbfsShmem);
        _uffd.Register(_addr, (nuint)bytes, UffdConstants.RegisterModeWp);
        _worker = new Thread(Store) { IsBackground = true, Name = "fastpt-bench-wp-writer" };
        _worker.Start();
    }

    public int Pages { get; }

    /// <summary>Write-protects every page again (not timed).</summary>
    public void ProtectAll() => _uffd.WriteProtect(_addr, (nuint)((ulong)Pages << 12), protect: true);

    private void Store()
    {
        while (true)
        {
            _go.Wait();
            if (_stop)
                return;
            for (int i = 0; i < Pages; i++)
                Libc.Memset(_addr + ((nint)i << 12), 1, 1);
            _done.Release();
        }
    }

    /// <summary>One store per page, each a fault round trip; returns the round trips served.</summary>
    public int RoundTrips()
    {
        _go.Release();
        const ulong expected = UffdConstants.PagefaultFlagWrite | UffdConstants.PagefaultFlagWp;
        for (int i = 0; i < Pages; i++)
        {
            if (!_uffd.ReadMessage(TimeoutMilliseconds, out var msg))
                throw new InvalidOperationException($"no userfaultfd message for the store to page {i} within {TimeoutMilliseconds} ms (was the range protected?)");
            nint page = _addr + ((nint)i << 12);
            if (msg.Event != UffdConstants.EventPagefault || msg.PagefaultFlags != expected || (nint)msg.PagefaultAddress != page)
                throw new InvalidOperationException($"unexpected userfaultfd message for page {i} (0x{page:X}): {msg}; expected event 0x12, flags 0x3");
            _uffd.WriteProtect(page, 4096, protect: false);
        }
        if (!_done.Wait(TimeoutMilliseconds))
            throw new InvalidOperationException($"the writer did not finish within {TimeoutMilliseconds} ms after its last fault was resolved");
        return Pages;
    }

    public void Dispose()
    {
        _stop = true;
        _uffd.Dispose(); // a store still blocked (after an error) completes once the userfaultfd is gone
        _go.Release();
        _worker.Join(TimeSpan.FromSeconds(5));
        Libc.Munmap(_addr, (nuint)((ulong)Pages << 12));
        Libc.Close(_memfd);
        _go.Dispose();
        _done.Dispose();
    }
}
