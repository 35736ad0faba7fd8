using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>change_protection with a chosen kernel ISA, so one run can time the scalar twin beside the SIMD one.</summary>
public readonly unsafe struct IsaChangeProtectionOp(KernelIsa isa, ChangeProtectionParams p) : ILeafOp
{
    public bool PopulateTables => p.PopulateTables;

    public bool FreeEmptyCoveredTables => false;

    public bool SplitCoveredHuge(ulong entry, int level) => false;

    public void Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush) =>
        changed += ChangeProtectionKernels.Apply<ExclusiveTables>(isa, entries, count, p, flush);

    public void Huge(ulong* entry, int level, ulong va, ref long changed, ref bool flush)
    {
    }
}
