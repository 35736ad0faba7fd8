using FastPT.Kvm.Interop;

namespace FastPT.Kvm.Vmm;

/// <summary>
/// Why KVM_RUN returned. For port I/O, <see cref="Port"/>/<see cref="Value"/>; for anything
/// unexpected the registers are captured so the report can say where the guest was.
/// </summary>
public readonly record struct VcpuExit(
    KvmExitReason Reason,
    bool TimedOut,
    ushort Port,
    bool IsOut,
    uint Value,
    ulong Detail,
    KvmRegs Regs,
    KvmSregs Sregs)
{
    public bool IsOutTo(ushort port) => Reason == KvmExitReason.Io && IsOut && Port == port;

    public string Describe()
    {
        string what = TimedOut ? "time limit reached (vCPU kicked)" : Reason switch
        {
            KvmExitReason.Io => $"port I/O {(IsOut ? "out" : "in")} port 0x{Port:X} value 0x{Value:X}",
            KvmExitReason.Mmio => $"MMIO at guest-physical 0x{Detail:X} (outside guest RAM)",
            KvmExitReason.Shutdown => "shutdown (triple fault)",
            KvmExitReason.Hlt => "HLT",
            KvmExitReason.FailEntry => $"entry failed, hardware reason 0x{Detail:X}",
            KvmExitReason.InternalError => $"KVM internal error, suberror {Detail}",
            _ => $"exit reason {(uint)Reason} ({Reason})",
        };
        return $"{what}; {Regs}; {Sregs}";
    }
}
