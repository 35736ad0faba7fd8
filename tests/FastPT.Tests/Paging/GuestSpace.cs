using System.Runtime.InteropServices;
using FastPT.Memory;
using FastPT.Paging;

namespace FastPT.Tests.Paging;

/// <summary>
/// Test helper: an address space whose tables live in a small native buffer at a low
/// guest-physical base, so table addresses fit any MAXPHYADDR a test chooses (native
/// table sources use host pointers, which need 47 bits).
/// </summary>
internal sealed unsafe class GuestSpace : IDisposable
{
    public const ulong GuestBase = 0x10_0000;
    private readonly byte* _host;
    private readonly int _tables;

    public GuestSpace(int levels = 4, int tables = 32)
    {
        _tables = tables;
        _host = (byte*)NativeMemory.AlignedAlloc((nuint)tables * 4096, 4096);
        Source = new GuestMemoryTableSource(_host, GuestBase, (ulong)tables * 4096);
        Space = new AddressSpace(Source, levels);
    }

    public GuestMemoryTableSource Source { get; }
    public AddressSpace Space { get; }

    /// <summary>All table memory, guest-physical GuestBase upward.</summary>
    public Span<byte> Memory => new(_host, _tables * 4096);

    // The buffer goes back as a whole; the space's tables need no walk (entries may be garbage).
    public void Dispose() => NativeMemory.AlignedFree(_host);
}
