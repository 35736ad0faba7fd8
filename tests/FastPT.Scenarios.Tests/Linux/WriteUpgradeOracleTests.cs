using FastPT.Entries;
using FastPT.Linux;
using FastPT.Linux.Interop;
using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Scenarios.Tests.Linux;

/// <summary>
/// Whether mprotect to RW or a uffd-wp resolve gives a page its write access back at once, or
/// leaves it to the next write's fault: on the live kernel (the minor faults the next store
/// takes, counted for this thread) against the model (the RW bit of its PTE). Reports and pagemap
/// cannot show it. Rows: anonymous or memfd, written or only read, mprotect or uffd-wp, VMA
/// registered or not.
/// </summary>
[Collection("Kernel")]
public sealed unsafe class WriteUpgradeOracleTests
{
    private const int Pages = 4, Page = 4096;

    public static TheoryData<bool, bool, bool, bool> Rows()
    {
        var rows = new TheoryData<bool, bool, bool, bool>();
        foreach (bool file in new[] { false, true })
            foreach (bool written in new[] { false, true })
                foreach (bool viaUffd in new[] { false, true })
                    foreach (bool registered in new[] { false, true })
                        if (!viaUffd || registered)
                            rows.Add(file, written, viaUffd, registered);
        return rows;
    }

    [SkippableTheory]
    [MemberData(nameof(Rows))]
    public void The_model_gives_write_access_back_at_once_exactly_where_the_kernel_does(bool file, bool written, bool viaUffd, bool registered)
    {
        Skip.IfNot(File.Exists("/proc/thread-self/stat"), "needs Linux /proc and userfaultfd (the kernel oracle)");
        Assert.Equal(KernelWritableAtOnce(file, written, viaUffd, registered), ModelWritableAtOnce(file, written, viaUffd, registered));
    }

    private static bool ModelWritableAtOnce(bool file, bool written, bool viaUffd, bool registered)
    {
        const ulong at = 0x7F00_0000_0000;
        using var m = new MemoryModel();
        m.Map(at, Pages * Page, file ? Backing.File : Backing.Anon, MemoryProtection.ReadWrite);
        m.Access(at, written, new FlushPlan());
        if (registered)
            m.RegisterWriteProtect(at, Pages * Page, new FlushPlan());
        if (viaUffd)
        {
            m.WriteProtect(at, Pages * Page, protect: true, new FlushPlan());
            m.WriteProtect(at, Pages * Page, protect: false, new FlushPlan());
        }
        else
        {
            m.Protect(at, Pages * Page, MemoryProtection.Read, new FlushPlan());
            m.Protect(at, Pages * Page, MemoryProtection.ReadWrite, new FlushPlan());
        }
        return (m.Space.Entry(at, 1) & Pte.Writable) != 0;
    }

    private static bool KernelWritableAtOnce(bool file, bool written, bool viaUffd, bool registered)
    {
        int fd = -1;
        if (file)
        {
            fd = Libc.MemfdCreate("fastpt-write-upgrade", FileFlags.MfdCloexec);
            SyscallException.ThrowIf(fd < 0 || Libc.Ftruncate(fd, Pages * Page) != 0, "memfd_create/ftruncate");
        }
        nint a = Libc.Mmap(0, Pages * Page, Prot.ReadWrite, file ? MapFlags.Shared : MapFlags.Private | MapFlags.Anonymous, fd, 0);
        SyscallException.ThrowIf(a == MapFlags.Failed, "mmap");
        try
        {
            using var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp | UffdFeature.WpHugetlbfsShmem);
            if (written)
                *(byte*)a = 1;
            else
                _ = System.Threading.Volatile.Read(ref *(byte*)a);
            if (registered)
                uffd.Register(a, Pages * Page, UffdConstants.RegisterModeWp);
            if (viaUffd)
            {
                uffd.WriteProtect(a, Pages * Page, protect: true);
                uffd.WriteProtect(a, Pages * Page, protect: false);
            }
            else
            {
                SyscallException.ThrowIf(Libc.Mprotect(a, Pages * Page, Prot.Read) != 0, "mprotect");
                SyscallException.ThrowIf(Libc.Mprotect(a, Pages * Page, Prot.ReadWrite) != 0, "mprotect");
            }
            // Another thread of this process may fault meanwhile, so count this thread's only;
            // a store that finds a writable PTE takes no fault at all.
            byte* buffer = stackalloc byte[1024];
            long before = MinorFaults(buffer);
            *(byte*)a = 2;
            long after = MinorFaults(buffer);
            return after == before;
        }
        finally
        {
            Libc.Munmap(a, Pages * Page);
            if (fd >= 0)
                Libc.Close(fd);
        }
    }

    /// <summary>minflt, field 10 of /proc/thread-self/stat (after the ")" that ends the command name).</summary>
    private static long MinorFaults(byte* buffer)
    {
        int fd = Libc.Open("/proc/thread-self/stat", FileFlags.ReadOnly);
        SyscallException.ThrowIf(fd < 0, "open /proc/thread-self/stat");
        nint n = Libc.Read(fd, buffer, 1024);
        Libc.Close(fd);
        SyscallException.ThrowIf(n <= 0, "read /proc/thread-self/stat");
        var text = System.Text.Encoding.ASCII.GetString(buffer, (int)n);
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7]); // fields from 3 (state): minflt is field 10
    }
}
