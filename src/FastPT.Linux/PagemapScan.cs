using System.Runtime.InteropServices;
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
    public ulong CategoryInverted;
    public ulong CategoryMask;
    public ulong CategoryAnyofMask;
    public ulong ReturnMask;
}

/// <summary>struct page_region (24 bytes): [Start, End) and the reported categories.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PageRegion
{
    public ulong Start;
    public ulong End;
    public ulong Categories;
}

/// <summary>The PAGEMAP_SCAN ioctl (Linux 6.7+) on an open pagemap file.</summary>
public static unsafe class PagemapScan
{
    public const ulong Ioctl = 0xC0606610;
    public const ulong FlagWpMatching = 1 << 0;
    public const ulong FlagCheckWpAsync = 1 << 1;

    public const ulong IsWpAllowed = 1 << 0;
    public const ulong IsWritten = 1 << 1;
    public const ulong IsFile = 1 << 2;
    public const ulong IsPresent = 1 << 3;
    public const ulong IsSwapped = 1 << 4;
    public const ulong IsPfnZero = 1 << 5;
    public const ulong IsHuge = 1 << 6;
    public const ulong IsSoftDirty = 1 << 7;
    public const ulong IsGuard = 1 << 8;
    public const ulong AllCategories = (1 << 9) - 1;

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
