using System.Runtime.InteropServices;
using FastPT.Kernels;
using FastPT.Linux.Interop;

namespace FastPT.Linux;

/// <summary>struct pm_scan_arg (96 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PmScanArg
{
    public ulong Size;
    public ulong Flags;
    public ulong Start;
    public ulong End;
    public ulong WalkEnd;
    public ulong Vec;
    public ulong VecLength;
    public ulong MaxPages;
    public PageCategories CategoryInverted;
    public PageCategories CategoryMask;
    public PageCategories CategoryAnyofMask;
    public PageCategories ReturnMask;
}

/// <summary>struct page_region (24 bytes): [Start, End) and the reported categories.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PageRegion
{
    public ulong Start;
    public ulong End;
    public PageCategories Categories;
}

/// <summary>
/// The PAGEMAP_SCAN ioctl (Linux 6.7+) on an open pagemap file. Its category bits are
/// <see cref="PageCategories"/>, the same type the engine's scan uses.
/// </summary>
public static unsafe class PagemapScan
{
    public const ulong Ioctl = 0xC0606610;
    public const ulong FlagWpMatching = 1 << 0;
    public const ulong FlagCheckWpAsync = 1 << 1;

    /// <summary>
    /// Runs the ioctl over [start, end) writing into <paramref name="regions"/>; fills Size, Vec and
    /// VecLength itself. Returns the number of regions written; arg.WalkEnd says where it stopped.
    /// </summary>
    public static int Scan(Pagemap pagemap, ref PmScanArg arg, Span<PageRegion> regions)
    {
        fixed (PageRegion* vec = regions)
        fixed (PmScanArg* a = &arg)
        {
            a->Size = (ulong)sizeof(PmScanArg);
            a->Vec = (ulong)vec;
            a->VecLength = (ulong)regions.Length;
            int n = Libc.Ioctl(pagemap.Fd, Ioctl, a);
            SyscallException.ThrowIf(n < 0, $"ioctl(PAGEMAP_SCAN, 0x{a->Start:X}-0x{a->End:X}, flags={a->Flags})");
            return n;
        }
    }
}
