using FastPT.Kvm.Interop;
using FastPT.Linux.Interop;

namespace FastPT.Kvm.Vmm;

/// <summary>
/// Guest RAM: one anonymous host mapping that is guest-physical [0, Size). The VMM, FastPT's
/// tables and the vCPU all see the same bytes, so tables written here are walked in place.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    private nint _mapping;

    public GuestMemory(ulong size)
    {
        if (size == 0 || (size & 0x1F_FFFF) != 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, "guest RAM must be a non-zero multiple of 2 MiB");
        nint p = Libc.Mmap(0, (nuint)size, Prot.ReadWrite, MapFlags.Private | MapFlags.Anonymous | MapFlags.NoReserve, -1, 0);
        if (p == MapFlags.Failed)
            throw new KvmException($"mmap of {size} bytes of guest RAM: {Errno.DescribeLast()}");
        _mapping = p;
        Size = size;
    }

    public ulong Size { get; }

    public byte* HostBase => (byte*)_mapping;

    /// <summary>Host pointer for a guest-physical range; throws if it leaves guest RAM.</summary>
    public byte* At(ulong guestPhysical, ulong length = 1)
    {
        if (guestPhysical >= Size || length > Size - guestPhysical)
            throw new ArgumentOutOfRangeException(nameof(guestPhysical), $"guest-physical 0x{guestPhysical:X}+0x{length:X} is outside guest RAM [0, 0x{Size:X})");
        return HostBase + guestPhysical;
    }

    public ref ulong U64(ulong guestPhysical) => ref *(ulong*)At(guestPhysical, 8);

    public Span<byte> Bytes(ulong guestPhysical, int length) => new(At(guestPhysical, (ulong)length), length);

    public void Dispose()
    {
        if (_mapping != 0)
        {
            Libc.Munmap(_mapping, (nuint)Size);
            _mapping = 0;
        }
    }
}
