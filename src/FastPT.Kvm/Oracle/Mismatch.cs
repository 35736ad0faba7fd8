using FastPT.Paging;

namespace FastPT.Kvm.Oracle;

/// <summary>Where FastPT's prediction and the vCPU disagree.</summary>
public enum MismatchKind
{
    /// <summary>Success vs fault, a different error code, or a different CR2.</summary>
    Outcome,
    /// <summary>A table entry differs after the batch (A/D bits, or anything else).</summary>
    TableEntry,
    /// <summary>The batch did not end as programmed (unexpected exit, exception, time limit).</summary>
    Run,
}

/// <summary>One disagreement, with enough context to replay it by hand.</summary>
public sealed record Mismatch(
    MismatchKind Kind,
    int Space,
    int Batch,
    CpuMode Cpu,
    int ProbeIndex,
    Probe Probe,
    string Expected,
    string Actual,
    string Detail = "")
{
    public override string ToString() => Kind switch
    {
        MismatchKind.Outcome =>
            $"space {Space} batch {Batch} probe {ProbeIndex}: {Probe.Access} 0x{Probe.Address:X} at {Describe(Cpu)}: FastPT {Expected}, KVM {Actual}{(Detail.Length > 0 ? "; " + Detail : "")}",
        MismatchKind.TableEntry =>
            $"space {Space} batch {Batch} at {Describe(Cpu)}: {Detail}: FastPT 0x{Expected}, KVM 0x{Actual}",
        _ => $"space {Space} batch {Batch} at {Describe(Cpu)}: run failed: {Actual}",
    };

    public static string Describe(in CpuMode c) =>
        $"CPL{(c.User ? 3 : 0)} WP={B(c.WriteProtect)} NXE={B(c.Nxe)} SMEP={B(c.Smep)} SMAP={B(c.Smap)} AC={B(c.AlignmentCheck)}" +
        (c.ProtectionKeys ? $" PKRU=0x{c.Pkru:X}" : "");

    private static int B(bool b) => b ? 1 : 0;
}
