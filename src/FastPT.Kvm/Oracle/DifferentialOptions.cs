namespace FastPT.Kvm.Oracle;

/// <summary>How much to check. Seeds make runs reproducible; the same seed gives the same probes.</summary>
public sealed record DifferentialOptions(int Seed, int Probes)
{
    public int ProbesPerBatch { get; init; } = 2500;
    public int BatchesPerSpace { get; init; } = 5;
    /// <summary>Offer SMEP and SMAP to the guest beyond KVM_GET_SUPPORTED_CPUID (see docs/kvm.md).</summary>
    public bool ExtraPagingFeatures { get; init; } = true;
    public TimeSpan RunLimit { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How many mismatches to keep in detail (all are counted).</summary>
    public int KeepMismatches { get; init; } = 20;
}
