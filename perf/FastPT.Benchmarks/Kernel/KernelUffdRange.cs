using FastPT.Linux;
using FastPT.Linux.Interop;

namespace FastPT.Benchmarks.Kernel;

/// <summary>
/// The live kernel doing FastPT's jobs on real memory: a shmem (memfd) mapping registered
/// for uffd-wp, either populated (protect / unprotect of present PTEs) or left empty
/// (markers installed into empty entries, tables allocated on the way, then cleared); or a
/// private anonymous mapping registered with WP_ASYNC (the model's faulted memory).
/// </summary>
public sealed class KernelUffdRange : IDisposable
{
    private readonly int _memfd = -1;
    private readonly bool _populated;
    private readonly bool _anonymous;
    private Userfaultfd? _uffd;
    private nint _addr;

    public KernelUffdRange(ulong bytes, bool populated, bool anonymous = false)
    {
        Bytes = bytes;
        _populated = populated;
        _anonymous = anonymous;
        if (!anonymous)
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
        _addr = _anonymous
            ? KernelMemory.Map(Bytes, MapFlags.Private | MapFlags.Anonymous | MapFlags.NoReserve, -1)
            : KernelMemory.Map(Bytes, MapFlags.Shared, _memfd);
        if (_anonymous)
            KernelMemory.NoHugePages(_addr, Bytes); // 4 KiB PTEs, as the model's faulted range
        if (_populated)
            KernelMemory.Populate(_addr, Bytes);
        _uffd = new Userfaultfd(_anonymous ? UffdFeature.WpAsync | UffdFeature.WpUnpopulated : UffdFeature.WpHugetlbfsShmem);
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
        if (_memfd >= 0)
            Libc.Close(_memfd);
    }
}
