using System.Runtime.InteropServices;
using FastPT.Memory;

namespace FastPT.Tests.Memory;

/// <summary>
/// Test helper: guest RAM in several regions, each region's host memory fenced by PROT_NONE
/// pages on both sides, so one byte read or written outside every region kills the test run
/// with SIGSEGV. That makes "never touches memory outside the guest's regions" an oracle,
/// not a hope.
/// </summary>
internal sealed unsafe partial class GuardedGuestMemory : IDisposable
{
    private const int ProtNone = 0, ProtReadWrite = 3, MapPrivateAnonymous = 0x02 | 0x20;
    private readonly nint _mapping;
    private readonly nuint _length;
    private readonly nint[] _hosts;

    /// <param name="regions">Guest-physical base and size in 4 KiB pages of each region.</param>
    public GuardedGuestMemory(params (ulong GuestPhysical, int Pages)[] regions)
    {
        int pages = regions.Sum(r => r.Pages) + regions.Length + 1;
        _length = (nuint)pages * 4096;
        _mapping = Mmap(0, _length, ProtNone, MapPrivateAnonymous, -1, 0);
        if (_mapping == -1)
            throw new InvalidOperationException($"mmap of {pages} guard-paged pages failed: errno {Marshal.GetLastPInvokeError()}");
        _hosts = new nint[regions.Length];
        nint at = _mapping + 4096; // the first guard page
        for (int i = 0; i < regions.Length; i++)
        {
            nuint bytes = (nuint)regions[i].Pages * 4096;
            if (Mprotect(at, bytes, ProtReadWrite) != 0)
                throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
            _hosts[i] = at;
            Map.Add(regions[i].GuestPhysical, bytes, (byte*)at);
            at += (nint)bytes + 4096; // and a guard page after each region
        }
    }

    public GuestMemoryMap Map { get; } = new();

    /// <summary>The host memory of region <paramref name="index"/> (in the order given).</summary>
    public Span<ulong> Region(int index) => new((void*)_hosts[index], (int)(Map.Regions[IndexInMap(index)].Size / 8));

    private int IndexInMap(int index)
    {
        for (int i = 0; i < Map.Regions.Length; i++)
            if (Map.Regions[i].Host == _hosts[index])
                return i;
        throw new InvalidOperationException($"region {index} was removed");
    }

    public void Dispose() => Munmap(_mapping, _length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint addr, nuint length, int prot);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint addr, nuint length);
}
