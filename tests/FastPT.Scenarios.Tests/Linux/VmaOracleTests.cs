using FastPT.Linux;
using FastPT.Linux.Interop;
using FastPT.Uffd;
using FastPT.Walk;

namespace FastPT.Scenarios.Tests.Linux;

/// <summary>
/// VMA behaviour scripts cannot express (they map regions apart and register whole regions),
/// on the live kernel and on the model side by side: a partial registration covers exactly its
/// range, and adjacent anonymous mmaps merge at once.
/// </summary>
[Collection("Kernel")]
public sealed unsafe class VmaOracleTests
{
    private const int Page = 4096;
    private const ulong ModelBase = 0x7F00_0000_0000;

    [SkippableFact]
    public void Write_protect_outside_a_partial_registration_is_refused_by_both()
    {
        Skip.IfNot(File.Exists("/proc/self/pagemap"), "needs Linux userfaultfd (the kernel oracle)");
        nint a = Libc.Mmap(0, 4 * Page, Prot.ReadWrite, MapFlags.Private | MapFlags.Anonymous, -1, 0);
        SyscallException.ThrowIf(a == MapFlags.Failed, "mmap");
        bool[] kernel = new bool[4], model = new bool[4];
        try
        {
            using var uffd = new Userfaultfd(UffdFeature.PagefaultFlagWp);
            uffd.Register(a + Page, 2 * Page, UffdConstants.RegisterModeWp);
            for (int p = 0; p < 4; p++)
                kernel[p] = Accepted(() => uffd.WriteProtect(a + p * Page, Page, protect: true));
        }
        finally
        {
            Libc.Munmap(a, 4 * Page);
        }
        using var m = new MemoryModel();
        m.Map(ModelBase, 4 * Page, Backing.Anon, MemoryProtection.ReadWrite);
        m.RegisterWriteProtect(ModelBase + Page, 2 * Page, new FlushPlan());
        for (int p = 0; p < 4; p++)
            model[p] = Accepted(() => m.WriteProtect(ModelBase + (ulong)(p * Page), Page, protect: true, new FlushPlan()));
        Assert.Equal([false, true, true, false], kernel); // ENOENT outside
        Assert.Equal(kernel, model);
    }

    [SkippableFact]
    public void Two_adjacent_anonymous_mmaps_take_a_huge_page_across_both()
    {
        const string thp = "/sys/kernel/mm/transparent_hugepage/enabled";
        Skip.IfNot(File.Exists(thp) && !File.ReadAllText(thp).Contains("[never]"), "needs Linux with transparent huge pages (madvise or always)");
        const int mib = 1 << 20;
        nint reserve = Libc.Mmap(0, 6 * mib, Prot.None, MapFlags.Private | MapFlags.Anonymous | MapFlags.NoReserve, -1, 0);
        SyscallException.ThrowIf(reserve == MapFlags.Failed, "mmap");
        nint a = (reserve + 2 * mib) & ~(nint)(2 * mib - 1);
        bool kernelHuge;
        try
        {
            for (int half = 0; half < 2; half++)
            {
                nint at = a + half * mib;
                SyscallException.ThrowIf(Libc.Mmap(at, mib, Prot.ReadWrite, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, -1, 0) != at, "mmap");
                SyscallException.ThrowIf(Libc.Madvise(at, mib, Madv.HugePage) != 0, "madvise");
            }
            *(byte*)a = 1;
            using var pagemap = new Pagemap();
            kernelHuge = (pagemap.Read(a + 300 * Page) & PagemapBits.Present) != 0; // a 4 KiB fault maps page 0 only
        }
        finally
        {
            Libc.Munmap(reserve, 6 * mib);
        }
        using var m = new MemoryModel();
        m.Map(ModelBase, mib, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Map(ModelBase + mib, mib, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Access(ModelBase, write: true, new FlushPlan());
        bool modelHuge = (m.Pagemap(ModelBase + 300 * Page) & PagemapBits.Present) != 0;
        Assert.True(kernelHuge, "the kernel mapped no huge page (THP disturbed? out of huge pages?)");
        Assert.Equal(kernelHuge, modelHuge);
    }

    private static bool Accepted(Action call)
    {
        try
        {
            call();
            return true;
        }
        catch (Exception e) when (e is SyscallException or InvalidOperationException)
        {
            return false;
        }
    }
}
