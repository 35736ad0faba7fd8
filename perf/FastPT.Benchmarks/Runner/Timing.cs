using FastPT.Results.Compare;

namespace FastPT.Benchmarks.Runner;

/// <summary>
/// One measured step: ns per unit in every repetition, in the order taken. Timings made by
/// one <see cref="BenchSuite.TimeCycle(int, long, Action[])"/> call share a cycle, and only
/// those pair up by repetition (<see cref="RatiosTo"/>): a baseline timed in its own loop saw
/// a different machine (this one drifts), so its ratio is not a paired one.
/// </summary>
public sealed class Timing
{
    private readonly object _cycle;

    internal Timing(double[] samples, object cycle)
    {
        Samples = samples;
        _cycle = cycle;
        Median = Comparer.Median(samples);
    }

    /// <summary>ns per unit of each repetition.</summary>
    public IReadOnlyList<double> Samples { get; }

    public double Median { get; }

    /// <summary>Whether <paramref name="other"/> was timed in the same repetitions (the same cycle).</summary>
    public bool PairedWith(Timing? other) => other != null && ReferenceEquals(other._cycle, _cycle) && other.Samples.Count == Samples.Count;

    /// <summary>This / <paramref name="baseline"/> per repetition; null when the two were not timed in the same cycle.</summary>
    public double[]? RatiosTo(Timing? baseline) =>
        PairedWith(baseline) ? [.. Samples.Select((s, i) => s / baseline!.Samples[i])] : null;
}
