using FastPT.Linux;
using FastPT.Linux.Interop;

namespace FastPT.Benchmarks.Kernel;

/// <summary>
/// The live kernel doing FastPT's jobs on real memory: a shmem (memfd) mapping registered
/// for uffd-wp, either populated (protect / unprotect of present PTEs) or left empty
/// (markers installed into empty entries, tables allocated on the way, then cleared).
/// </summary>
public sealed class KernelUffdRange : IDisposable
{
    private readonly int _memfd;
    private readonly bool _populated;
    private Userfaultfd? _uffd;
    private nint _addr;

    public KernelUffdRange(ulong bytes, bool populated)
    {
        Bytes = bytes;
        _populated = populated;
        _memfd = KernelMemory.Memfd(bytes);
        Map();
    }

    public ulong Bytes { get; }

    public long Pages => (long)(Bytes >> 12);

    public void Protect() => _uffd!.WriteProtect(_addr, (nuint)Bytes, protect: true);

    public void Unprotect() => _uffd!.WriteProtect(_addr, (nuint)Bytes, protect: false);

    /// <summary>Unmaps and maps again, so the next protect of an empty range allocates its tables again.</summary>
    public void Remap()
    {
        Unmap();
        Map();
    }

    private void Map()
    {
        _addr = KernelMemory.Map(Bytes, MapFlags.Shared, _memfd);
        if (_populated)
            KernelMemory.Populate(_addr, Bytes);
        _uffd = new Userfaultfd(UffdFeature.WpHugetlbfsShmem);
        _uffd.Register(_addr, (nuint)Bytes, UffdConstants.RegisterModeWp);
    }

    private void Unmap()
    {
        if (_addr != 0)
            Libc.Munmap(_addr, (nuint)Bytes);
        _uffd?.Dispose();
        _addr = 0;
        _uffd = null;
    }

    public void Dispose()
    {
        Unmap();
        Libc.Close(_memfd);
    }
}
