using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Paging;
using Iced.Intel;
using Xunit;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Kvm.Tests;

public sealed class VmmTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    [SkippableFact]
    public void UserModeGuestExitsWithOut()
    {
        KvmFact.SkipIfUnavailable();
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        output.WriteLine(m.Features.ToString());
        var a = new Assembler(64);
        a.mov(eax, 0x1234);
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, eax);
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        var exit = m.Start(CpuMode.UserMode, GuestLayout.UserCode, Limit);
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
        Assert.Equal(0x1234u, exit.Value);
    }

    [SkippableFact]
    public void SupervisorGuestExitsWithOut()
    {
        KvmFact.SkipIfUnavailable();
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        var a = new Assembler(64);
        a.mov(rax, cr0);
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, eax);
        GuestAssembler.Emit(m.Memory, a, GuestLayout.KernelCode, GuestLayout.CodeSize);
        var exit = m.Start(CpuMode.Supervisor, GuestLayout.KernelCode, Limit);
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
        Assert.Equal(0x80010033u, exit.Value);
    }

    [SkippableFact]
    public void UserPageFaultIsRecordedAndSkipped()
    {
        KvmFact.SkipIfUnavailable();
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        var a = new Assembler(64);
        var resume = a.CreateLabel();
        a.mov(r13, rsp);
        a.mov(r15, GuestLayout.Results);
        a.lea(r14, __[resume]);
        a.mov(rax, 0x80_1234_5678UL);
        a.mov(cl, __byte_ptr[rax]);
        a.Label(ref resume);
        a.mov(eax, 0x77);
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, eax);
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        m.Memory.Bytes(GuestLayout.Results, 16).Clear();
        var exit = m.Start(CpuMode.UserMode, GuestLayout.UserCode, Limit);
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
        Assert.Equal(0x80_1234_5678UL, m.Memory.U64(GuestLayout.Results));
        Assert.Equal((1UL << 63) | 4, m.Memory.U64(GuestLayout.Results + 8));
    }

    /// <summary>A guest whose user code is <c>jmp $</c>: only the time limit ends its run.</summary>
    private static GuestMachine RunawayGuest()
    {
        var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        a.Label(ref loop);
        a.jmp(loop);
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        return m;
    }

    [SkippableFact]
    public void RunawayGuestIsStoppedByTheTimeLimit()
    {
        KvmFact.SkipIfUnavailable();
        using var m = RunawayGuest();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var exit = m.Start(CpuMode.UserMode, GuestLayout.UserCode, TimeSpan.FromMilliseconds(200));
        Assert.True(exit.TimedOut, exit.Describe());
        Assert.InRange(sw.ElapsedMilliseconds, 150, 3000);
        // The vCPU is usable afterwards: the pending kick was consumed, not delivered.
        var a = new Assembler(64);
        a.mov(dx, GuestLayout.PortDone);
        a.@out(dx, al);
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        exit = m.Start(CpuMode.UserMode, GuestLayout.UserCode, Limit);
        Assert.True(exit.IsOutTo(GuestLayout.PortDone), exit.Describe());
    }

    [SkippableFact]
    public void TheTimeLimitHoldsWhileTheThreadPoolIsStarved()
    {
        // A VMM's pool may be busy with its own work: the limit must not wait for a pool thread.
        KvmFact.SkipIfUnavailable();
        using var m = RunawayGuest();
        var release = new ManualResetEventSlim(); // not disposed: queued blockers may start after Set
        int blockers = ThreadPool.ThreadCount + 4 * Environment.ProcessorCount + 16;
        for (int i = 0; i < blockers; i++)
            ThreadPool.UnsafeQueueUserWorkItem(static r => r.Wait(), release, preferLocal: false);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        VcpuExit exit;
        try
        {
            exit = m.Start(CpuMode.UserMode, GuestLayout.UserCode, TimeSpan.FromMilliseconds(200));
        }
        finally
        {
            release.Set();
        }
        Assert.True(exit.TimedOut, exit.Describe());
        Assert.InRange(sw.ElapsedMilliseconds, 150, 2000);
    }

    [SkippableFact]
    public void UnexpectedExceptionIsReportedWithItsVector()
    {
        KvmFact.SkipIfUnavailable();
        using var m = new GuestMachine(PageFaultMode.RecordAndSkip);
        var a = new Assembler(64);
        a.ud2();
        GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        var exit = m.Start(CpuMode.UserMode, GuestLayout.UserCode, Limit);
        Assert.True(exit.IsOutTo(GuestLayout.PortUnexpectedException), exit.Describe());
        Assert.Equal(6u, exit.Value);
    }

    [SkippableFact]
    public void SecondDisposeLeavesReusedFdsAlone()
    {
        KvmFact.SkipIfUnavailable();
        var vm = new VirtualMachine(0x200000);
        vm.Dispose();
        // Linux hands out the lowest free fd numbers: these take the ones the VM (vCPU, VM, /dev/kvm) gave back.
        string path = Path.GetTempFileName();
        var handles = new Microsoft.Win32.SafeHandles.SafeFileHandle[3];
        for (int i = 0; i < handles.Length; i++)
            handles[i] = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        try
        {
            vm.Dispose();
            foreach (var h in handles)
                RandomAccess.Write(h, new byte[] { 1 }, 0); // EBADF (IOException) if the VM closed it again
        }
        finally
        {
            foreach (var h in handles)
                h.Dispose();
            File.Delete(path);
        }
    }
}
