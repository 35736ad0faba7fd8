using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// Dirty-log get + clear of one slot, both ways, on the same number of pages with the same
/// pages written: FastPT's <see cref="DirtyLog"/> over 4 KiB PTEs (shared mode, as beside a
/// running vCPU) and KVM's own KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG on the slot of a VM's
/// RAM, whose pages a guest wrote between harvests (<see cref="KvmReset"/>, untimed).
/// Without a VM (<c>withKvm: false</c>) only FastPT's side exists. In
/// <see cref="DirtyLogMode.WriteProtect"/> mode the writes are the log's fault handler (untimed)
/// and the timed Clear write-protects the written pages again.
/// </summary>
public sealed unsafe class DirtyLogPair : IDisposable
{
    private const ulong Base = 0x40_0000_0000;
    private const int Stride = 10;
    private readonly NativeTableSource _tables = new();
    private readonly AddressSpace _space;
    private readonly DirtyLog _log;
    private readonly FlushPlan _flush = new();
    private readonly FlushPlan _faultFlush = new();
    private readonly ulong[] _bitmap;
    private readonly ulong[] _kvmBitmap;
    private readonly GuestMachine? _machine;
    private readonly ulong _program;
    private bool _started;

    public DirtyLogPair(bool withKvm, DirtyLogMode mode = DirtyLogMode.DirtyBit)
    {
        Pages = (int)(GuestLayout.MemorySize / 4096);
        _space = new AddressSpace(_tables);
        for (int p = 0; p < Pages; p++)
            _space.Map(Base + (ulong)p * 4096, 0x1_0000_0000 + (ulong)p * 4096, PageSize.Size4K, PgProt.Shared);
        _log = new DirtyLog(_space, new WalkOptions { SharedTables = true }, mode: mode);
        _log.AddSlot(0, Base, (ulong)Pages * 4096, _flush);
        _bitmap = new ulong[Pages / 64];
        _kvmBitmap = new ulong[Pages / 64];
        if (!withKvm)
            return;
        _machine = new GuestMachine(PageFaultMode.RecordAndSkip);

        // The guest writes every Stride-th page of its scratch RAM, then exits with OUT, and again.
        for (ulong pa = GuestLayout.Scratch; pa < GuestLayout.MemorySize; pa += 4096)
            _machine.Space.Map(pa, pa, PageSize.Size4K, PgProt.Shared);
        var a = new Assembler(64);
        var start = a.CreateLabel();
        var loop = a.CreateLabel();
        a.Label(ref start);
        a.mov(rbx, GuestLayout.Scratch);
        a.mov(ecx, Written);
        a.Label(ref loop);
        a.mov(__byte_ptr[rbx], 1);
        a.add(rbx, Stride * 4096);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(dx, GuestLayout.PortRoundDone);
        a.@out(dx, al);
        a.jmp(start);
        GuestAssembler.Emit(_machine.Memory, a, GuestLayout.UserCode, GuestLayout.CodeSize);
        _program = GuestLayout.UserCode;
        ManualProtect = _machine.Vm.EnableManualDirtyLogProtect();
        _machine.Vm.SetDirtyLogging(true);
    }

    /// <summary>Pages of either slot (KVM's: the VM's RAM).</summary>
    public int Pages { get; }

    /// <summary>Pages written per round (every Stride-th page of the guest's scratch RAM, the same count for FastPT).</summary>
    public static int Written => (int)((GuestLayout.MemorySize - GuestLayout.Scratch) / 4096 / Stride);

    /// <summary>Whether KVM offered KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (else GET re-protects and there is no CLEAR).</summary>
    public bool ManualProtect { get; }

    /// <summary>Sets D on the written pages, as a vCPU would (write-protect mode: their write faults go to the log).</summary>
    public void EngineReset()
    {
        _faultFlush.Clear();
        for (int k = 0; k < Written; k++)
        {
            ulong va = Base + (ulong)(k * Stride) * 4096;
            if (_log.Mode == DirtyLogMode.WriteProtect)
                _log.HandleWriteFault(va, _faultFlush);
            else
                _space.Entry(va, 1) |= Pte.Dirty;
        }
    }

    public void EngineGetClear()
    {
        Array.Clear(_bitmap);
        _flush.Clear();
        _log.Get(0, _bitmap, _flush);
        _log.Clear(0, 0, _bitmap, _flush);
    }

    /// <summary>Runs the guest's round of writes (each one faults into KVM, which logs it).</summary>
    public void KvmReset()
    {
        if (_machine == null)
            throw new InvalidOperationException("this pair has no VM");
        var exit = _started ? _machine.Resume(TimeSpan.FromSeconds(10)) : _machine.Start(CpuMode.UserMode, _program, TimeSpan.FromSeconds(10));
        _started = true;
        if (!exit.IsOutTo(GuestLayout.PortRoundDone))
            throw new InvalidOperationException($"the dirtying guest stopped unexpectedly: {exit.Describe()}");
    }

    public void KvmGetClear()
    {
        if (_machine == null)
            throw new InvalidOperationException("this pair has no VM");
        _machine.Vm.GetDirtyLog(_kvmBitmap);
        if (ManualProtect)
            _machine.Vm.ClearDirtyLog(0, _kvmBitmap);
    }

    /// <summary>Pages the last harvests reported (FastPT, KVM): a check that both saw the writes.</summary>
    public (long Engine, long Kvm) LastReported() =>
        (_bitmap.Sum(w => (long)System.Numerics.BitOperations.PopCount(w)), _kvmBitmap.Sum(w => (long)System.Numerics.BitOperations.PopCount(w)));

    public void Dispose()
    {
        _space.Dispose();
        _tables.Dispose();
        _machine?.Dispose();
    }
}
