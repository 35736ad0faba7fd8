using System.Runtime.InteropServices;
using FastPT.Kvm.Interop;
using FastPT.Linux.Interop;

namespace FastPT.Kvm.Vmm;

/// <summary>
/// One vCPU: register access and <see cref="Run"/>, which always returns within its time limit.
/// </summary>
/// <remarks>
/// Time limit: a kernel POSIX timer (timer_create with SIGEV_THREAD_ID) sends a real-time
/// signal to the thread that runs the vCPU. The kernel delivers it on time however busy the
/// process is; a thread-pool timer did not (under load its callback came seconds late). The
/// signal is blocked in that thread outside KVM_RUN and unblocked only inside it (via
/// KVM_SET_SIGNAL_MASK), so it never reaches a handler: inside KVM_RUN it makes KVM_RUN return
/// EINTR, and one that arrives just before entry stays pending and makes the next entry return
/// EINTR at once. The pending signal is consumed with rt_sigtimedwait; .NET never sees it.
/// </remarks>
public sealed unsafe class Vcpu : IDisposable
{
    /// <summary>SIGRTMAX-1: not used by glibc (32, 33) or the .NET runtime (SIGRTMIN).</summary>
    public const int KickSignal = 63;

    private readonly int _fd;
    private readonly nint _run;
    private readonly int _runSize;
    private int _maskedTid;
    private int _disposed;

    internal Vcpu(int vmFd, int runSize)
    {
        _fd = Libc.Ioctl(vmFd, KvmIoctl.CreateVcpu, 0);
        if (_fd < 0)
            throw new KvmException($"KVM_CREATE_VCPU: {Errno.DescribeLast()}");
        _runSize = runSize;
        _run = Libc.Mmap(0, (nuint)runSize, Prot.ReadWrite, MapFlags.Shared, _fd, 0);
        if (_run == MapFlags.Failed)
        {
            Libc.Close(_fd);
            throw new KvmException($"mmap of kvm_run: {Errno.DescribeLast()}");
        }
    }

    internal void SetCpuid(ReadOnlySpan<KvmCpuidEntry> entries)
    {
        int bytes = 8 + entries.Length * sizeof(KvmCpuidEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buffer = (uint)entries.Length;
            entries.CopyTo(new Span<KvmCpuidEntry>(buffer + 8, entries.Length));
            if (Libc.Ioctl(_fd, KvmIoctl.SetCpuid2, buffer) < 0)
                throw new KvmException($"KVM_SET_CPUID2: {Errno.DescribeLast()}");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public KvmRegs GetRegs()
    {
        KvmRegs r;
        if (Libc.Ioctl(_fd, KvmIoctl.GetRegs, &r) < 0)
            throw new KvmException($"KVM_GET_REGS: {Errno.DescribeLast()}");
        return r;
    }

    public void SetRegs(in KvmRegs regs)
    {
        fixed (KvmRegs* r = &regs)
            if (Libc.Ioctl(_fd, KvmIoctl.SetRegs, r) < 0)
                throw new KvmException($"KVM_SET_REGS: {Errno.DescribeLast()}");
    }

    public KvmSregs GetSregs()
    {
        KvmSregs s;
        if (Libc.Ioctl(_fd, KvmIoctl.GetSregs, &s) < 0)
            throw new KvmException($"KVM_GET_SREGS: {Errno.DescribeLast()}");
        return s;
    }

    public void SetSregs(in KvmSregs sregs)
    {
        fixed (KvmSregs* s = &sregs)
            if (Libc.Ioctl(_fd, KvmIoctl.SetSregs, s) < 0)
                throw new KvmException($"KVM_SET_SREGS (cr0={sregs.Cr0:X} cr4={sregs.Cr4:X} efer={sregs.Efer:X}): {Errno.DescribeLast()}");
    }

    /// <summary>
    /// Runs the vCPU until it exits to the VMM or <paramref name="limit"/> passes. Exits the
    /// VMM itself handles (none so far) are not hidden: every exit is returned.
    /// </summary>
    public VcpuExit Run(TimeSpan limit)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        PrepareThread();
        int timer = StartTimer(limit);
        int rc;
        int errno = 0;
        bool timedOut = false;
        try
        {
            while (true)
            {
                rc = Libc.Ioctl(_fd, KvmIoctl.Run, 0);
                if (rc >= 0)
                    break;
                errno = Marshal.GetLastPInvokeError();
                // Other signals (the runtime's own) interrupt KVM_RUN too: only ours ends the run.
                if (errno != Errno.EINTR || (timedOut = TakeKick()))
                    break;
            }
        }
        finally
        {
            Libc.Syscall(SyscallNumber.TimerDelete, timer, 0, 0, 0);
            // The timer may have fired after a normal exit: its signal must not end the next run.
            TakeKick();
        }
        if (rc < 0 && !timedOut)
            throw new KvmException($"KVM_RUN: {Errno.Describe(errno)}; {GetRegs()}; {GetSregs()}");
        return timedOut ? Capture(KvmExitReason.Intr, timedOut: true) : Capture(ExitReason, timedOut: false);
    }

    /// <summary>A one-shot CLOCK_MONOTONIC timer that sends <see cref="KickSignal"/> to this thread after <paramref name="limit"/>.</summary>
    private static int StartTimer(TimeSpan limit)
    {
        // struct sigevent (64 bytes): sigev_value, sigev_signo, sigev_notify, then the thread id.
        byte* ev = stackalloc byte[64];
        new Span<byte>(ev, 64).Clear();
        *(int*)(ev + 8) = KickSignal;
        *(int*)(ev + 12) = SigEvent.ThreadId;
        *(int*)(ev + 16) = Libc.Gettid();
        int timer;
        if (Libc.Syscall(SyscallNumber.TimerCreate, Clock.Monotonic, (long)ev, (long)&timer, 0) < 0)
            throw new KvmException($"timer_create: {Errno.DescribeLast()}");
        // struct itimerspec: no interval, then the first expiry (a zero expiry would disarm it).
        long ticks = Math.Max(limit.Ticks, 1);
        long* spec = stackalloc long[4];
        spec[0] = 0;
        spec[1] = 0;
        spec[2] = ticks / TimeSpan.TicksPerSecond;
        spec[3] = ticks % TimeSpan.TicksPerSecond * 100;
        if (Libc.Syscall(SyscallNumber.TimerSettime, timer, 0, (long)spec, 0) < 0)
        {
            string why = Errno.DescribeLast();
            Libc.Syscall(SyscallNumber.TimerDelete, timer, 0, 0, 0);
            throw new KvmException($"timer_settime ({limit}): {why}");
        }
        return timer;
    }

    private KvmExitReason ExitReason => (KvmExitReason)RunU32(KvmRunLayout.ExitReason);

    private VcpuExit Capture(KvmExitReason reason, bool timedOut)
    {
        ushort port = 0;
        bool isOut = false;
        uint value = 0;
        ulong detail = 0;
        if (reason == KvmExitReason.Io && !timedOut)
        {
            port = *(ushort*)(_run + KvmRunLayout.IoPort);
            isOut = RunByte(KvmRunLayout.IoDirection) == 1;
            int size = RunByte(KvmRunLayout.IoSize);
            byte* data = (byte*)_run + *(ulong*)(_run + KvmRunLayout.IoDataOffset);
            value = size switch { 1 => *data, 2 => *(ushort*)data, _ => *(uint*)data };
        }
        else if (reason == KvmExitReason.Mmio)
            detail = *(ulong*)(_run + KvmRunLayout.MmioPhysAddr);
        else if (reason is KvmExitReason.InternalError or KvmExitReason.FailEntry)
            detail = *(ulong*)(_run + KvmRunLayout.Union);
        return new VcpuExit(reason, timedOut, port, isOut, value, detail, GetRegs(), GetSregs());
    }

    private ref byte RunByte(int offset) => ref *(byte*)(_run + offset);

    private uint RunU32(int offset) => *(uint*)(_run + offset);

    /// <summary>Blocks the kick signal in this thread and tells KVM to unblock it inside KVM_RUN.</summary>
    private void PrepareThread()
    {
        int tid = Libc.Gettid();
        if (tid == _maskedTid)
            return;
        ulong block = 1UL << (KickSignal - 1);
        ulong old;
        if (Libc.Syscall(SyscallNumber.RtSigprocmask, SigMask.Block, (long)&block, (long)&old, 8) < 0)
            throw new KvmException($"rt_sigprocmask: {Errno.DescribeLast()}");
        byte* mask = stackalloc byte[12];
        *(uint*)mask = 8;
        *(ulong*)(mask + 4) = old & ~block;
        if (Libc.Ioctl(_fd, KvmIoctl.SetSignalMask, mask) < 0)
            throw new KvmException($"KVM_SET_SIGNAL_MASK: {Errno.DescribeLast()}");
        _maskedTid = tid;
    }

    /// <summary>Consumes the kick signal if it is pending in this thread (it is blocked here, so never delivered).</summary>
    private static bool TakeKick()
    {
        ulong set = 1UL << (KickSignal - 1);
        long* zero = stackalloc long[2];
        zero[0] = 0;
        zero[1] = 0;
        return Libc.Syscall(SyscallNumber.RtSigtimedwait, (long)&set, 0, (long)zero, 8) == KickSignal;
    }

    /// <summary>Idempotent: a second call must not close an fd number or unmap an address the process has reused since.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Libc.Munmap(_run, (nuint)_runSize);
        Libc.Close(_fd);
    }
}
