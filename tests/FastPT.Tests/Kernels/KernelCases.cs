using FastPT.Kernels;

namespace FastPT.Tests.Kernels;

/// <summary>
/// One leaf kernel with fixed parameters, callable with any ISA and write mode: the cases the
/// shared-mode tests run over every kernel alike.
/// </summary>
internal unsafe interface IKernelCase
{
    string Name { get; }

    /// <summary>The kernel's rule changes this entry, so the kernel commits a new value for it.</summary>
    bool Commits(ulong e);

    /// <summary>
    /// Runs the kernel; <paramref name="categories"/> takes scan categories, <paramref name="bitsA"/> the
    /// flush bits (harvest: the harvested bits, with its flush bits in <paramref name="bitsB"/>).
    /// </summary>
    long Run<TMode>(KernelIsa isa, ulong* entries, int count, Span<ushort> categories, Span<ulong> bitsA, Span<ulong> bitsB)
        where TMode : struct, ITableWriteMode;
}

internal static class KernelCases
{
    /// <summary>Every kernel: change protection (the given params), zap, scan and harvest (all their params).</summary>
    public static IEnumerable<IKernelCase> All(IEnumerable<ChangeProtectionParams> cp)
    {
        foreach (var p in cp)
            yield return new ChangeProtection(p);
        foreach (var zp in new[] { new ZapParams(false, false), new ZapParams(false, true), new ZapParams(true, false), new ZapParams(true, true) })
            yield return new Zap(zp);
        foreach (var vma in new[] { PageCategories.None, PageCategories.WpAllowed | PageCategories.File })
            for (int k = 0; k < 4; k++)
                yield return new Scan(new ScanParams { EmptyIsWritten = (k & 1) != 0, WriteProtect = (k & 2) != 0, VmaCategories = vma });
        yield return new Harvest(HarvestBit.Dirty);
        yield return new Harvest(HarvestBit.Accessed);
    }

    public sealed unsafe class ChangeProtection(ChangeProtectionParams p) : IKernelCase
    {
        public string Name => $"change-protection prot=0x{p.NewProt:X} {p.Flags} markers={p.UseMarkers} w={p.VmaWritable} s={p.VmaShared} u={p.VmaUffdWp}";
        public bool Commits(ulong e) => ChangeProtectionRule.Apply(e, p, out _) != e;
        public long Run<TMode>(KernelIsa isa, ulong* entries, int count, Span<ushort> categories, Span<ulong> bitsA, Span<ulong> bitsB)
            where TMode : struct, ITableWriteMode => ChangeProtectionKernels.Apply<TMode>(isa, entries, count, p, bitsA);
    }

    public sealed unsafe class Zap(ZapParams p) : IKernelCase
    {
        public string Name => $"zap {p}";
        public bool Commits(ulong e) => ZapRule.Apply(e, p, out _) != e;
        public long Run<TMode>(KernelIsa isa, ulong* entries, int count, Span<ushort> categories, Span<ulong> bitsA, Span<ulong> bitsB)
            where TMode : struct, ITableWriteMode => ZapKernels.Apply<TMode>(isa, entries, count, p, bitsA);
    }

    public sealed unsafe class Scan(ScanParams p) : IKernelCase
    {
        public string Name => $"scan {p}";
        public bool Commits(ulong e) => ScanRule.Apply(e, p, out _, out _) != e;
        public long Run<TMode>(KernelIsa isa, ulong* entries, int count, Span<ushort> categories, Span<ulong> bitsA, Span<ulong> bitsB)
            where TMode : struct, ITableWriteMode
        {
            fixed (ushort* c = categories)
                return ScanKernels.Apply<TMode>(isa, entries, count, p, c, bitsB, bitsA);
        }
    }

    public sealed unsafe class Harvest(HarvestBit which) : IKernelCase
    {
        private readonly ulong _want = FastPT.Entries.Pte.Present | (which == HarvestBit.Dirty ? FastPT.Entries.Pte.Dirty : FastPT.Entries.Pte.Accessed);
        public string Name => $"harvest {which}";
        public bool Commits(ulong e) => (e & _want) == _want;
        public long Run<TMode>(KernelIsa isa, ulong* entries, int count, Span<ushort> categories, Span<ulong> bitsA, Span<ulong> bitsB)
            where TMode : struct, ITableWriteMode => HarvestKernels.Harvest<TMode>(isa, entries, count, which, bitsA, bitsB);
    }
}
