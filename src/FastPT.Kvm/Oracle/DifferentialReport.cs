using FastPT.Kvm.Vmm;

namespace FastPT.Kvm.Oracle;

/// <summary>The result of a differential run: counts, the first mismatches in detail.</summary>
public sealed class DifferentialReport
{
    public required DifferentialOptions Options { get; init; }
    public GuestCpuFeatures? Features { get; set; }
    public long Probes { get; set; }
    public long Faults { get; set; }
    public long ReservedFaults { get; set; }
    public long Spaces { get; set; }
    public long Batches { get; set; }
    public long SupervisorProbes { get; set; }
    public long MismatchCount { get; set; }
    public long TableEntriesCompared { get; set; }
    public long AccessedDirtyChanges { get; set; }
    public List<Mismatch> Mismatches { get; } = [];

    /// <summary>The guest-built check: tables the guest wrote, how many above the RAM hole, links to a table already linked, probes through a recursive slot.</summary>
    public long GuestTables { get; set; }
    public long GuestTablesAboveTheHole { get; set; }
    public long SharedLinks { get; set; }
    public long RecursiveProbes { get; set; }
    public TimeSpan Elapsed { get; set; }

    public void Add(Mismatch m)
    {
        MismatchCount++;
        if (Mismatches.Count < Options.KeepMismatches)
            Mismatches.Add(m);
    }

    public string Summary =>
        $"seed {Options.Seed}: {Spaces} address spaces, {Batches} batches, {Probes} probes ({SupervisorProbes} at CPL 0), " +
        $"{Faults} faults ({ReservedFaults} reserved-bit), {AccessedDirtyChanges} A/D bits set by the vCPU, " +
        $"{TableEntriesCompared} table entries compared, " +
        (GuestTables > 0 ? $"guest-built: {GuestTables} tables ({GuestTablesAboveTheHole} above the RAM hole), {SharedLinks} shared links, {RecursiveProbes} probes through a recursive slot, " : "") +
        $"{Elapsed.TotalSeconds:F1} s";

    /// <summary>The closing line: `N probes, M mismatches`.</summary>
    public string Verdict => $"{Probes} probes, {MismatchCount} mismatches";
}
