using FastPT.Linux;
using FastPT.Linux.Interop;

namespace FastPT.Benchmarks.Kernel;

/// <summary>mmap / memfd helpers for the kernel baselines, over FastPT.Linux's Libc.</summary>
internal static class KernelMemory
{
    /// <summary>MADV_POPULATE_WRITE (Linux 5.14+): fault every page in writable, as a real writer would.</summary>
    public const int MadvPopulateWrite = 23;

    public static nint Map(ulong bytes, int flags, int fd)
    {
        nint addr = Libc.Mmap(0, (nuint)bytes, Prot.ReadWrite, flags, fd, 0);
        SyscallException.ThrowIf(addr == MapFlags.Failed, $"mmap({bytes} bytes, flags 0x{flags:X})");
        return addr;
    }

    /// <summary>MADV_NOHUGEPAGE: keep a range on 4 KiB PTEs whatever the machine's THP setting.</summary>
    public static void NoHugePages(nint addr, ulong bytes) =>
        SyscallException.ThrowIf(Libc.Madvise(addr, (nuint)bytes, Madv.NoHugePage) != 0, "madvise(MADV_NOHUGEPAGE)");

    public static void Populate(nint addr, ulong bytes) =>
        SyscallException.ThrowIf(Libc.Madvise(addr, (nuint)bytes, MadvPopulateWrite) != 0, "madvise(MADV_POPULATE_WRITE)");

    public static int Memfd(ulong bytes)
    {
        int fd = Libc.MemfdCreate("fastpt-bench", FileFlags.MfdCloexec);
        SyscallException.ThrowIf(fd < 0, "memfd_create");
        if (Libc.Ftruncate(fd, (long)bytes) != 0)
        {
            var e = new SyscallException("ftruncate(memfd)", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            Libc.Close(fd);
            throw e;
        }
        return fd;
    }
}
