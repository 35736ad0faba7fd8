using static FastPT.Benchmarks.Kernel.KernelBaselineInterop;

namespace FastPT.Benchmarks.Kernel;

/// <summary>
/// The live kernel doing FastPT's jobs on real memory: a shmem (memfd) mapping registered
/// for uffd-wp, either populated (protect / unprotect of present PTEs) or left empty
/// (markers installed into empty entries, tables allocated on the way, then cleared).
/// </summary>
public sealed unsafe class KernelUffdRange : IDisposable
{
    private readonly int _memfd;
    private readonly bool _populated;
    private int _uffd = -1;
    private byte* _addr;

    public KernelUffdRange(ulong bytes, bool populated)
    {
        Bytes = bytes;
        _populated = populated;
        _memfd = memfd_create("fastpt-bench", 1 /* MFD_CLOEXEC */);
        Check(_memfd, "memfd_create");
        Check(ftruncate(_memfd, (long)bytes), "ftruncate");
        Map();
    }

    public ulong Bytes { get; }

    public long Pages => (long)(Bytes >> 12);

    public void Protect() => WriteProtect(_uffd, _addr, Bytes, true);

    public void Unprotect() => WriteProtect(_uffd, _addr, Bytes, false);

    /// <summary>Unmaps and maps again, so the next protect of an empty range allocates its tables again.</summary>
    public void Remap()
    {
        Unmap();
        Map();
    }

    private void Map()
    {
        _addr = (byte*)mmap(null, (nuint)Bytes, ProtRead | ProtWrite, MapShared, _memfd, 0);
        if ((nint)_addr == -1)
            Check(-1, "mmap");
        if (_populated)
            Check(madvise(_addr, (nuint)Bytes, MadvPopulateWrite), "madvise(MADV_POPULATE_WRITE)");
        _uffd = OpenUffd(FeatureWpHugetlbfsShmem);
        Register(_uffd, _addr, Bytes);
    }

    private void Unmap()
    {
        if (_addr != null)
            munmap(_addr, (nuint)Bytes);
        if (_uffd >= 0)
            close(_uffd);
        _addr = null;
        _uffd = -1;
    }

    public void Dispose()
    {
        Unmap();
        close(_memfd);
    }
}
