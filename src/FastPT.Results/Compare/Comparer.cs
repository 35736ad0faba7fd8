using FastPT.Results.Model;
using FastPT.Results.Statistics;
using Perfolizer.Mathematics.SignificanceTesting.Base;
using Perfolizer.Mathematics.SignificanceTesting.MannWhitney;
using Perfolizer.Metrology;
using Pragmastat;
using Pragmastat.Metrology;

namespace FastPT.Results.Compare;

/// <summary>One figure (time, or a paired ratio) of one operation, base against new.</summary>
/// <param name="Figure">"time", "vs bare" or "vs kernel" (engine / baseline per repetition).</param>
/// <param name="Shift">Hodges–Lehmann shift new − base with its confidence interval.</param>
/// <param name="PSlower">p of "new is slower than base by more than the threshold".</param>
/// <param name="PFaster">p of "new is faster than base by more than the threshold".</param>
public sealed record FigureComparison(
    string Figure, string Unit, int BaseCount, int NewCount, double BaseMedian, double NewMedian,
    ShiftEstimate Shift, double PSlower, double PFaster, Verdict Verdict, string? Why)
{
    /// <summary>The shift relative to the base median (0.15 = 15 % slower).</summary>
    public double Relative => Shift.Shift / BaseMedian;

    public double RelativeLow => Shift.Low / BaseMedian;

    public double RelativeHigh => Shift.High / BaseMedian;
}

/// <summary>One operation: its figures and the verdict of the gating one.</summary>
public sealed record OpComparison(string Op, string Unit, IReadOnlyList<FigureComparison> Figures, string Gate, Verdict Verdict)
{
    public FigureComparison GateFigure => Figures.First(f => f.Figure == Gate);
}

/// <summary>Everything `fastpt compare` prints.</summary>
public sealed record ComparisonReport(
    ResultSet Base, ResultSet New, ComparisonOptions Options, IReadOnlyList<OpComparison> Ops,
    IReadOnlyList<string> OnlyInBase, IReadOnlyList<string> OnlyInNew, IReadOnlyList<string> Warnings)
{
    public IEnumerable<OpComparison> Regressions => Ops.Where(o => o.Verdict == Verdict.Slower);
}

/// <summary>Compares two runs operation by operation (docs/results-format.md, "Comparing").</summary>
public static class Comparer
{
    public const string TimeFigure = "time";

    /// <summary>
    /// Compares <paramref name="baseSet"/> with <paramref name="newSet"/>. Throws
    /// <see cref="ResultsFormatException"/> when they cannot be compared: no operation in
    /// common, an operation measured in different units, or different machines (unless
    /// <paramref name="allowOtherMachine"/>).
    /// </summary>
    public static ComparisonReport Compare(ResultSet baseSet, string baseOrigin, ResultSet newSet, string newOrigin,
        ComparisonOptions? options = null, bool allowOtherMachine = false)
    {
        var o = options ?? new ComparisonOptions();
        if (o.Threshold is < 0 or >= 10 || !double.IsFinite(o.Threshold))
            throw new ArgumentOutOfRangeException(nameof(options), $"threshold {o.Threshold} is out of range; use 0..10 (0.10 = 10 %)");
        if (o.Alpha is <= 0 or >= 0.5)
            throw new ArgumentOutOfRangeException(nameof(options), $"alpha {o.Alpha} is out of range; use a value in (0, 0.5)");
        var warnings = new List<string>();
        string baseKey = baseSet.Environment.CpuKey, newKey = newSet.Environment.CpuKey;
        if (baseKey != newKey)
        {
            string what = $"the runs are from different machines ({baseKey}: {baseSet.Environment.CpuModel}; {newKey}: {newSet.Environment.CpuModel})";
            if (!allowOtherMachine)
                throw new ResultsFormatException(newOrigin, $"{what}; compare runs of one machine, or pass --allow-other-machine to compare anyway");
            warnings.Add(what);
        }
        if (baseSet.SamplesKind != newSet.SamplesKind)
            warnings.Add($"the samples differ in kind ({baseSet.SamplesKind} against {newSet.SamplesKind}): their spreads are not alike, so the test is only a rough guide");
        if (baseSet.Environment.Isa != null && newSet.Environment.Isa != null && baseSet.Environment.Isa != newSet.Environment.Isa)
            warnings.Add($"the runs used different kernels: ISA {baseSet.Environment.Isa} against {newSet.Environment.Isa}");
        if (newSet.Environment.Dirty == true)
            warnings.Add($"the new run was built from a tree with uncommitted changes ({Short(newSet.Environment.Commit)}+dirty)");

        var ops = new List<OpComparison>();
        foreach (var b in baseSet.Results)
        {
            var n = newSet.Find(b.Op);
            if (n == null)
                continue;
            if (n.Unit != b.Unit)
                throw new ResultsFormatException(newOrigin, $"operation \"{b.Op}\" is in {n.Unit} here but in {b.Unit} in {baseOrigin}; the two runs measure different things");
            ops.Add(CompareOp(b, n, o));
        }
        if (ops.Count == 0)
            throw new ResultsFormatException(newOrigin, $"has no operation in common with {baseOrigin} (base: {string.Join(", ", baseSet.Results.Take(5).Select(r => r.Op))}...; new: {string.Join(", ", newSet.Results.Take(5).Select(r => r.Op))}...)");
        return new ComparisonReport(baseSet, newSet, o, ops,
            [.. baseSet.Results.Select(r => r.Op).Where(op => newSet.Find(op) == null)],
            [.. newSet.Results.Select(r => r.Op).Where(op => baseSet.Find(op) == null)],
            warnings);
    }

    /// <summary>One operation's figures: its time, and each paired ratio both sides have.</summary>
    public static OpComparison CompareOp(OpResult b, OpResult n, ComparisonOptions o)
    {
        var figures = new List<FigureComparison> { CompareSamples(TimeFigure, b.Unit, b.Samples, n.Samples, o, o.NoiseFloor) };
        foreach (string key in new[] { "bare", "kernel" })
        {
            if (b.Ratios?.GetValueOrDefault(key) is { } br && n.Ratios?.GetValueOrDefault(key) is { } nr)
                figures.Add(CompareSamples($"vs {key}", "ratio", br, nr, o, noiseFloor: 0));
        }
        string gate = o.Gate == GateFigure.Auto && figures.Any(f => f.Figure == "vs bare") ? "vs bare" : TimeFigure;
        return new OpComparison(b.Op, b.Unit, figures, gate, figures.First(f => f.Figure == gate).Verdict);
    }

    /// <summary>Base against new samples of one figure (lower is better).</summary>
    public static FigureComparison CompareSamples(string figure, string unit, IReadOnlyList<double> before, IReadOnlyList<double> after,
        ComparisonOptions o, double noiseFloor)
    {
        double baseMedian = Median(before), newMedian = Median(after);
        var shift = ShiftEstimate.Of(before, after, o.Confidence);
        if (before.Count < 2 || after.Count < 2)
            return new(figure, unit, before.Count, after.Count, baseMedian, newMedian, shift, double.NaN, double.NaN, Verdict.Unknown,
                "fewer than 2 samples on one side");
        var x = new Sample([.. before]);
        var y = new Sample([.. after]);
        var threshold = new Threshold(new Measurement(o.Threshold * 100, PercentUnit.Instance));
        // Slower: new exceeds base × (1 + threshold); faster: base exceeds new × (1 + threshold).
        double pSlower = MannWhitneyTest.Instance.Perform(y, x, AlternativeHypothesis.Greater, threshold).PValue.Value;
        double pFaster = MannWhitneyTest.Instance.Perform(x, y, AlternativeHypothesis.Greater, threshold).PValue.Value;
        Verdict verdict = Verdict.Same;
        string? why = null;
        if (pSlower < o.Alpha)
            verdict = Verdict.Slower;
        else if (pFaster < o.Alpha)
            verdict = Verdict.Faster;
        if (verdict != Verdict.Same && Math.Abs(shift.Shift) < noiseFloor)
        {
            why = $"shift {shift.Shift:G3} is under the noise floor {noiseFloor:G3}";
            verdict = Verdict.Same;
        }
        return new(figure, unit, before.Count, after.Count, baseMedian, newMedian, shift, pSlower, pFaster, verdict, why);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        double[] s = [.. values];
        Array.Sort(s);
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    internal static string Short(string? commit) => commit is { Length: > 12 } ? commit[..12] : commit ?? "(unknown commit)";
}
