using FastPT.Linux.Interop;
using FastPT.Uffd;

namespace FastPT.Linux;

/// <summary>
/// An open /proc/self/pagemap: 64-bit entries per 4 KiB page, and the PAGEMAP_SCAN ioctl.
/// The entry bits are <see cref="PagemapBits"/>, shared with the engine's model.
/// </summary>
public sealed unsafe class Pagemap : IDisposable
{
    private int _fd;

    public Pagemap()
    {
        _fd = Libc.Open("/proc/self/pagemap", FileFlags.ReadOnly | FileFlags.CloseOnExec);
        SyscallException.ThrowIf(_fd < 0, "open(/proc/self/pagemap)");
    }

    public int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(Pagemap));

    /// <summary>Reads the entries of entries.Length pages starting at the page containing <paramref name="address"/>.</summary>
    public void Read(nint address, Span<ulong> entries)
    {
        long offset = (long)((ulong)address / 4096 * 8);
        fixed (ulong* p = entries)
        {
            nuint want = (nuint)entries.Length * 8, done = 0;
            while (done < want)
            {
                nint n = Libc.Pread(Fd, (byte*)p + done, want - done, offset + (long)done);
                SyscallException.ThrowIf(n < 0, "pread(/proc/self/pagemap)");
                if (n == 0)
                    throw new InvalidOperationException($"pread(/proc/self/pagemap) hit end of file at 0x{offset + (long)done:X}");
                done += (nuint)n;
            }
        }
    }

    /// <summary>One entry.</summary>
    public ulong Read(nint address)
    {
        ulong entry = 0;
        Read(address, new Span<ulong>(ref entry));
        return entry;
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
