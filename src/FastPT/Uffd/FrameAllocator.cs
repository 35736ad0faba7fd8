namespace FastPT.Uffd;

/// <summary>
/// Hands out page frame numbers for the model's pages. No memory stands behind them: the
/// model tracks mappings, not contents. The zero pages have fixed frames.
/// </summary>
internal sealed class FrameAllocator
{
    public const ulong ZeroPfn = 0x1000;
    /// <summary>The huge zero page: 2 MiB-aligned frame.</summary>
    public const ulong HugeZeroPfn = 0x40_0000;
    private ulong _next = 0x10_0000;

    public ulong Allocate(int count)
    {
        ulong align = (ulong)count;
        _next = (_next + align - 1) / align * align;
        ulong pfn = _next;
        _next += (ulong)count;
        return pfn;
    }
}
