namespace FastPT.Results.Compare;

/// <summary>
/// When a difference counts. As dotnet/performance's ResultsComparer: a relative threshold
/// (a change smaller than it is "same" however certain) and an absolute noise floor (a shift
/// smaller than it, in the operation's unit, is "same"); a Mann–Whitney U test with the
/// threshold applied decides whether the rest is more than chance.
/// </summary>
/// <param name="Threshold">Relative change that matters: 0.10 = 10 %.</param>
/// <param name="NoiseFloor">Smallest absolute shift of a time that matters, in the operation's unit (ratios have no floor).</param>
/// <param name="Alpha">Significance level of each one-sided test.</param>
/// <param name="Confidence">Level of the shift's confidence interval.</param>
/// <param name="Gate">Which figure decides an operation's verdict.</param>
public sealed record ComparisonOptions(
    double Threshold = ComparisonOptions.DefaultThreshold,
    double NoiseFloor = ComparisonOptions.DefaultNoiseFloor,
    double Alpha = ComparisonOptions.DefaultAlpha,
    double Confidence = 0.95,
    GateFigure Gate = GateFigure.Auto)
{
    public const double DefaultThreshold = 0.10;
    public const double DefaultNoiseFloor = 0.001;
    public const double DefaultAlpha = 0.01;
}

/// <summary>The figure that decides an operation's verdict (and so the exit code).</summary>
public enum GateFigure
{
    /// <summary>The paired ratio to the bare pass where the operation has one (it cancels machine drift), else the time.</summary>
    Auto,

    /// <summary>Always the absolute time.</summary>
    Time,
}

public enum Verdict
{
    Same,
    Faster,
    Slower,

    /// <summary>Too few samples on one side to test (fewer than 2).</summary>
    Unknown,
}
