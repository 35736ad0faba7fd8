using FastPT.Kernels;
using FastPT.Linux;
using FastPT.Linux.Interop;
using PagemapBits = FastPT.Uffd.PagemapBits;

namespace FastPT.Scenarios.Tests.Linux;

/// <summary>The raw interop against the live kernel: mappings, pagemap bits, userfaultfd, PAGEMAP_SCAN.</summary>
[Collection("Kernel")]
public sealed unsafe class InteropTests
{
    private const int Page = 4096;

    private static void RequireLinux() =>
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux /proc/self/pagemap");

    private static (nint Address, int Fd) MapMemfd(int pages)
    {
        int fd = Libc.MemfdCreate("fastpt-test", FileFlags.MfdCloexec);
        SyscallException.ThrowIf(fd < 0, "memfd_create");
        SyscallException.ThrowIf(Libc.Ftruncate(fd, pages * Page) != 0, "ftruncate");
        nint a = Libc.Mmap(0, (nuint)(pages * Page), Prot.ReadWrite, MapFlags.Shared, fd, 0);
        SyscallException.ThrowIf(a == MapFlags.Failed, "mmap");
        return (a, fd);
    }

    [SkippableFact]
    public void Memfd_write_shows_present_file_page_in_pagemap()
    {
        RequireLinux();
        var (a, fd) = MapMemfd(4);
        try
        {
            using var pagemap = new Pagemap();
            Assert.Equal(0UL, pagemap.Read(a + Page) & PagemapBits.Present);
            *(byte*)(a + Page) = 7;
            ulong e = pagemap.Read(a + Page);
            Assert.NotEqual(0UL, e & PagemapBits.Present);
            Assert.NotEqual(0UL, e & PagemapBits.File);
            Assert.NotEqual(0UL, e & PagemapBits.PfnMask); // root: the PFN is shown
            Span<ulong> entries = stackalloc ulong[4];
            pagemap.Read(a, entries);
            Assert.Equal(0UL, entries[0] & PagemapBits.Present);
            Assert.Equal(e & ~PagemapBits.SoftDirty, entries[1] & ~PagemapBits.SoftDirty);
        }
        finally
        {
            Libc.Munmap(a, 4 * Page);
            Libc.Close(fd);
        }
    }

    [SkippableFact]
    public void Register_wp_and_writeprotect_set_the_pagemap_W_bit_and_markers()
    {
        RequireLinux();
        var (a, fd) = MapMemfd(4);
        try
        {
            using var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp | UffdFeature.WpHugetlbfsShmem);
            Assert.True(uffd.AvailableFeatures.HasFlag(UffdFeature.WpHugetlbfsShmem));
            ulong ioctls = uffd.Register(a, 4 * Page, UffdConstants.RegisterModeWp);
            Assert.NotEqual(0UL, ioctls & (1UL << 6)); // _UFFDIO_WRITEPROTECT
            *(byte*)a = 1;
            uffd.WriteProtect(a, 4 * Page, protect: true);
            using var pagemap = new Pagemap();
            ulong present = pagemap.Read(a), marker = pagemap.Read(a + Page);
            Assert.Equal(PagemapBits.Present | PagemapBits.UffdWp | PagemapBits.File, present & (PagemapBits.Present | PagemapBits.UffdWp | PagemapBits.File | PagemapBits.Swap));
            Assert.Equal(PagemapBits.Swap | PagemapBits.UffdWp, marker & (PagemapBits.Present | PagemapBits.UffdWp | PagemapBits.File | PagemapBits.Swap));
            uffd.WriteProtect(a, 4 * Page, protect: false);
            Assert.Equal(0UL, pagemap.Read(a) & PagemapBits.UffdWp);
            Assert.Equal(0UL, pagemap.Read(a + Page) & (PagemapBits.UffdWp | PagemapBits.Swap));
        }
        finally
        {
            Libc.Munmap(a, 4 * Page);
            Libc.Close(fd);
        }
    }

    [SkippableFact]
    public void Blocked_store_produces_a_write_wp_message_and_completes_after_unprotect()
    {
        RequireLinux();
        var (a, fd) = MapMemfd(2);
        try
        {
            using var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp | UffdFeature.WpHugetlbfsShmem);
            uffd.Register(a, 2 * Page, UffdConstants.RegisterModeWp);
            *(byte*)(a + Page) = 1;
            uffd.WriteProtect(a, 2 * Page, protect: true);
            var worker = new Thread(() => Libc.Memset(a + Page + 5, 42, 1)) { IsBackground = true };
            worker.Start();
            Assert.True(uffd.ReadMessage(5000, out var msg), "no userfaultfd message within 5 s");
            Assert.Equal(UffdConstants.EventPagefault, msg.Event);
            Assert.Equal(UffdConstants.PagefaultFlagWrite | UffdConstants.PagefaultFlagWp, msg.PagefaultFlags);
            Assert.Equal((ulong)(a + Page), msg.PagefaultAddress);
            Assert.False(worker.Join(50), "the store should still be blocked");
            Assert.Equal(0, *(byte*)(a + Page + 5));
            uffd.WriteProtect(a + Page, Page, protect: false);
            Assert.True(worker.Join(5000), "the store did not complete after unprotect");
            Assert.Equal(42, *(byte*)(a + Page + 5));
            Assert.False(uffd.TryReadMessage(out _));
        }
        finally
        {
            Libc.Munmap(a, 2 * Page);
            Libc.Close(fd);
        }
    }

    [SkippableFact]
    public void A_garbage_collection_completes_while_a_native_store_is_blocked_on_the_userfaultfd()
    {
        RequireLinux();
        var (a, fd) = MapMemfd(1);
        try
        {
            using var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp | UffdFeature.WpHugetlbfsShmem);
            uffd.Register(a, Page, UffdConstants.RegisterModeWp);
            *(byte*)a = 1;
            uffd.WriteProtect(a, Page, protect: true);
            var worker = new Thread(() => BlockedStore(a)) { IsBackground = true };
            worker.Start();
            Assert.True(uffd.ReadMessage(5000, out _), "no userfaultfd message within 5 s");
            var gc = new Thread(() => GC.Collect(2, GCCollectionMode.Forced, blocking: true)) { IsBackground = true };
            gc.Start();
            bool collected = gc.Join(5000);
            uffd.WriteProtect(a, Page, protect: false);
            Assert.True(worker.Join(5000));
            Assert.True(collected, "GC waited for the thread blocked on the userfaultfd");
        }
        finally
        {
            Libc.Munmap(a, Page);
            Libc.Close(fd);
        }
    }

    private static void BlockedStore(nint address) => Libc.Memset(address, 2, 1);

    [SkippableFact]
    public void PagemapScan_reports_runs_and_write_protects_in_async_mode()
    {
        RequireLinux();
        var (a, fd) = MapMemfd(8);
        try
        {
            using var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp | UffdFeature.WpHugetlbfsShmem | UffdFeature.WpUnpopulated | UffdFeature.WpAsync);
            uffd.Register(a, 8 * Page, UffdConstants.RegisterModeWp);
            for (int i = 0; i < 3; i++)
                *(byte*)(a + i * Page) = 1;
            using var pagemap = new Pagemap();
            var regions = new FastPT.Linux.PageRegion[8];
            var arg = new PmScanArg
            {
                Start = (ulong)a, End = (ulong)(a + 8 * Page), Flags = PagemapScan.FlagWpMatching,
                CategoryMask = PageCategories.Written | PageCategories.Present, ReturnMask = PageCategories.Written | PageCategories.Present,
            };
            int n = PagemapScan.Scan(pagemap, ref arg, regions);
            Assert.Equal(1, n);
            Assert.Equal((ulong)a, regions[0].Start);
            Assert.Equal((ulong)(a + 3 * Page), regions[0].End);
            Assert.Equal(PageCategories.Written | PageCategories.Present, regions[0].Categories);
            Assert.Equal(arg.End, arg.WalkEnd);
            Assert.NotEqual(0UL, pagemap.Read(a + 2 * Page) & PagemapBits.UffdWp);
        }
        finally
        {
            Libc.Munmap(a, 8 * Page);
            Libc.Close(fd);
        }
    }

    [SkippableFact]
    public void Process_vm_readv_reads_own_memory_and_fails_with_EFAULT_on_PROT_NONE()
    {
        RequireLinux();
        nint a = Libc.Mmap(0, 2 * Page, Prot.ReadWrite, MapFlags.Private | MapFlags.Anonymous, -1, 0);
        try
        {
            *(byte*)a = 9;
            byte b = 0;
            var local = new IoVec { Base = (nint)(&b), Length = 1 };
            var remote = new IoVec { Base = a, Length = 1 };
            Assert.Equal(1, Libc.ProcessVmReadv(Libc.Getpid(), &local, 1, &remote, 1, 0));
            Assert.Equal(9, b);
            Assert.Equal(0, Libc.Mprotect(a + Page, Page, Prot.None));
            remote.Base = a + Page;
            Assert.Equal(-1, Libc.ProcessVmReadv(Libc.Getpid(), &local, 1, &remote, 1, 0));
            Assert.Equal(Errno.EFAULT, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        }
        finally
        {
            Libc.Munmap(a, 2 * Page);
        }
    }

    [SkippableFact]
    public void Failed_calls_name_the_call_and_errno()
    {
        RequireLinux();
        var e = Assert.Throws<SyscallException>(() =>
            SyscallException.ThrowIf(Libc.Mprotect(1, Page, Prot.Read) != 0, "mprotect(unaligned)"));
        Assert.Equal(Errno.EINVAL, e.ErrorNumber);
        Assert.StartsWith("mprotect(unaligned) failed: EINVAL (", e.Message);
        using var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp);
        var wp = Assert.Throws<SyscallException>(() => uffd.WriteProtect(0x1000, Page, protect: true, dontWake: true));
        Assert.Equal(Errno.EINVAL, wp.ErrorNumber); // WP together with DONTWAKE
    }

    [SkippableFact]
    public void Use_after_dispose_is_refused_and_dispose_is_idempotent()
    {
        RequireLinux();
        var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp);
        var pagemap = new Pagemap();
        Assert.True(uffd.Fd >= 0);
        Assert.True(pagemap.Fd >= 0);
        uffd.Dispose();
        pagemap.Dispose();
        uffd.Dispose();
        pagemap.Dispose();
        Assert.Throws<ObjectDisposedException>(() => uffd.WriteProtect(0x1000, Page, protect: true));
        Assert.Throws<ObjectDisposedException>(() => uffd.TryReadMessage(out _));
        Assert.Throws<ObjectDisposedException>(() => pagemap.Read(0x1000));
    }

    [SkippableFact]
    public void Errno_describe_names_the_symbol_and_the_text()
    {
        RequireLinux();
        Assert.Equal("EINVAL (Invalid argument)", Errno.Describe(Errno.EINVAL));
        Assert.StartsWith("errno 4095 (", Errno.Describe(4095));
        Assert.Equal(-1, Libc.Mprotect(1, Page, Prot.Read));
        Assert.Equal("EINVAL (Invalid argument)", Errno.DescribeLast());
    }

    [Fact]
    public void Struct_sizes_match_the_kernel_ABI()
    {
        Assert.Equal(24, sizeof(UffdioApi));
        Assert.Equal(16, sizeof(UffdioRange));
        Assert.Equal(32, sizeof(UffdioRegister));
        Assert.Equal(24, sizeof(UffdioWriteProtect));
        Assert.Equal(32, sizeof(UffdMessage));
        Assert.Equal(96, sizeof(PmScanArg));
        Assert.Equal(24, sizeof(FastPT.Linux.PageRegion));
    }
}
