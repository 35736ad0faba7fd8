using FastPT.Linux.Interop;

namespace FastPT.Scenarios.Backends;

/// <summary>
/// One region on the live kernel: a mapping at a 2 MiB-aligned address, with PROT_NONE
/// guard reservations (2 MiB before, and after up to the next 2 MiB boundary plus 2 MiB)
/// so nothing else is ever mapped into the page tables the region's pages use.
/// </summary>
internal sealed class KernelRegion
{
    public const long PageSize = 4096;
    public const long HugeSize = 2L << 20;

    public required string Name { get; init; }
    public required RegionKind Kind { get; init; }
    public required long Pages { get; init; }
    public required nint Base { get; init; }
    public required nint ReservationBase { get; init; }
    public required nuint ReservationLength { get; init; }
    public required int MemFd { get; init; }
    public required Protection[] Protections { get; init; }
    public bool Registered { get; set; }

    public nuint Length => (nuint)(Pages * PageSize);

    public nint Address(long page) => Base + (nint)(page * PageSize);

    /// <summary>Unmaps the region and its guards, closes the memfd.</summary>
    public void Release()
    {
        Libc.Munmap(ReservationBase, ReservationLength);
        if (MemFd >= 0)
            Libc.Close(MemFd);
    }
}
