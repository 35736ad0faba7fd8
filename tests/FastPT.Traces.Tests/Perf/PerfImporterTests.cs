using FastPT.Traces.Operations;
using FastPT.Traces.Perf;

namespace FastPT.Traces.Tests.Perf;

public class PerfImporterTests
{
    private static List<TraceOperation> Import(string text, IEnumerable<int>? pids = null)
    {
        var ops = new List<TraceOperation>();
        var importer = new PerfImporter(ops.Add, pids);
        foreach (var e in new PerfScriptParser(new StringReader(text), "t").Read())
            importer.Add(e);
        return ops;
    }

    private const string H = "         python3  100/100    1.000000: ";

    [Fact]
    public void Mmap_fault_mprotect_madvise_munmap_become_engine_operations()
    {
        string text = string.Join('\n',
            H + "syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00002001, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000",
            H + "syscalls:sys_exit_mmap: 0x7f0000000000",
            H + "exceptions:page_fault_user: address=0x7f0000001234 ip=0x1 error_code=0x6",
            H + "exceptions:page_fault_user: address=0x7f0000000010 ip=0x1 error_code=0x4",
            H + "syscalls:sys_enter_mprotect: start: 0x7f0000000000, len: 0x00001000, prot: 0x00000001",
            H + "syscalls:sys_exit_mprotect: 0x0",
            H + "syscalls:sys_enter_madvise: start: 0x7f0000000000, len_in: 0x00003000, behavior: 0x00000004",
            H + "syscalls:sys_enter_munmap: addr: 0x7f0000000000, len: 0x00003000",
            H + "syscalls:sys_exit_munmap: 0x0");
        var ops = Import(text);
        Assert.Equal(
        [
            TraceOperation.SpaceCreated(1, 100),
            TraceOperation.Map(1, 0x7f0000000000, 0x3000, TraceRegionKind.Anon, TraceProtection.ReadWrite),
            TraceOperation.Access(1, 0x7f0000001000, write: true),
            TraceOperation.Access(1, 0x7f0000000000, write: false),
            TraceOperation.Protect(1, 0x7f0000000000, 0x1000, TraceProtection.Read),
            TraceOperation.Zap(1, 0x7f0000000000, 0x3000),
            TraceOperation.Unmap(1, 0x7f0000000000, 0x3000),
        ], ops);
    }

    [Fact]
    public void Failed_syscalls_change_nothing()
    {
        string text = string.Join('\n',
            H + "syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00002000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000",
            H + "syscalls:sys_exit_mmap: 0xfffffffffffffff4");
        Assert.Equal([TraceOperation.SpaceCreated(1, 100)], Import(text));
    }

    [Fact]
    public void Brk_grows_and_shrinks_the_heap()
    {
        string text = string.Join('\n',
            H + "syscalls:sys_enter_brk: brk: 0x00000000",
            H + "syscalls:sys_exit_brk: 0x555500000000",
            H + "syscalls:sys_enter_brk: brk: 0x555500021000",
            H + "syscalls:sys_exit_brk: 0x555500021000",
            H + "syscalls:sys_enter_brk: brk: 0x555500010000",
            H + "syscalls:sys_exit_brk: 0x555500010000");
        Assert.Equal(
        [
            TraceOperation.SpaceCreated(1, 100),
            TraceOperation.Map(1, 0x555500000000, 0x21000, TraceRegionKind.Anon, TraceProtection.ReadWrite),
            TraceOperation.Unmap(1, 0x555500010000, 0x11000),
        ], Import(text));
    }

    [Fact]
    public void A_fault_outside_known_mappings_maps_an_implicit_region_clipped_to_its_gap()
    {
        string text = string.Join('\n',
            H + "syscalls:sys_enter_mmap: addr: 0x7f0000100000, len: 0x00001000, prot: 0x00000001, flags: 0x00000012, fd: 0x3, off: 0x0",
            H + "syscalls:sys_exit_mmap: 0x7f0000100000",
            H + "exceptions:page_fault_user: address=0x7f0000000008 ip=0x1 error_code=0x6");
        var ops = Import(text);
        Assert.Equal(TraceOperation.Map(1, 0x7f0000100000, 0x1000, TraceRegionKind.File, TraceProtection.Read), ops[1]);
        Assert.Equal(TraceOperation.Map(1, 0x7f0000000000, 0x100000, TraceRegionKind.Anon, TraceProtection.ReadWrite), ops[2]);
        Assert.Equal(TraceOperation.Access(1, 0x7f0000000000, true), ops[3]);
    }

    [Fact]
    public void Each_process_and_each_exec_gets_its_own_space_and_the_filter_holds()
    {
        string text = string.Join('\n',
            H + "exceptions:page_fault_user: address=0x1000 ip=0x1 error_code=0x4",
            "         child  200/200    1.1: exceptions:page_fault_user: address=0x1000 ip=0x1 error_code=0x4",
            "         child  200/200    1.2:   sched:sched_process_exec: filename=/bin/ls pid=200 old_pid=200");
        var ops = Import(text);
        Assert.Contains(TraceOperation.SpaceCreated(2, 200), ops);
        Assert.Equal(TraceOperation.SpaceDisposed(2), ops[^2]);
        Assert.Equal(TraceOperation.SpaceCreated(3, 200), ops[^1]);
        Assert.DoesNotContain(Import(text, [100]), o => o.Space != 1);
    }

    // Fuzzing findings (docs/fuzzing.md): calls the kernel refuses or ignores emitted empty,
    // wrapping or out-of-user-space ranges, which the replay cannot apply.
    [Theory]
    [InlineData("syscalls:sys_enter_mprotect: start: 0x7f0000000000, len: 0x00000000, prot: 0x00000001", "syscalls:sys_exit_mprotect: 0x0")]
    [InlineData("syscalls:sys_enter_madvise: start: 0x7f0000010000, len_in: 0x00000000, behavior: 0x00000004", "")]
    [InlineData("syscalls:sys_enter_munmap: addr: 0x7f0000000000, len: 0x00000000", "syscalls:sys_exit_munmap: 0x0")]
    [InlineData("syscalls:sys_enter_mprotect: start: 0xfffffffffffff000, len: 0x00002000, prot: 0x00000001", "syscalls:sys_exit_mprotect: 0x0")]
    [InlineData("syscalls:sys_enter_munmap: addr: 0x00ffffffffffe000, len: 0x00004000", "syscalls:sys_exit_munmap: 0x0")]
    [InlineData("syscalls:sys_enter_madvise: start: 0xffffffffffff0000, len_in: 0x00100000, behavior: 0x00000004", "")]
    public void Empty_wrapping_or_kernel_space_ranges_change_nothing(string enter, string exit)
    {
        string mapped = string.Join('\n',
            H + "syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00100000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000",
            H + "syscalls:sys_exit_mmap: 0x7f0000000000");
        var before = Import(mapped);
        var ops = Import(mapped + "\n" + H + enter + (exit.Length > 0 ? "\n" + H + exit : ""));
        Assert.Equal(before, ops);
    }
}
