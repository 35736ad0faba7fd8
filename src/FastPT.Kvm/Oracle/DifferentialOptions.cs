using FastPT.Kvm.Vmm;
using FastPT.Paging;

namespace FastPT.Kvm.Oracle;

/// <summary>How much to check. Seeds make runs reproducible; the same seed gives the same probes.</summary>
public sealed record DifferentialOptions(int Seed, int Probes)
{
    public int ProbesPerBatch { get; init; } = 2500;
    public int BatchesPerSpace { get; init; } = 5;
    /// <summary>Features offered beyond KVM_GET_SUPPORTED_CPUID (see docs/kvm.md): SMEP and SMAP work here.</summary>
    public ExtraGuestFeatures Extras { get; init; } = ExtraGuestFeatures.SmepSmap;

    /// <summary>Self-test hook: a deliberately wrong model must produce mismatches.</summary>
    internal Func<CpuMode, CpuMode>? ModelOverride { get; init; }

    /// <summary>Self-test hook: a model that forgets A/D must produce table mismatches.</summary>
    internal bool ModelSetsAccessedDirty { get; init; } = true;
    public TimeSpan RunLimit { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How many mismatches to keep in detail (all are counted).</summary>
    public int KeepMismatches { get; init; } = 20;
}
