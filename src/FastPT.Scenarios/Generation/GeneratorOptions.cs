namespace FastPT.Scenarios.Generation;

/// <summary>Shape of generated scripts. Defaults keep one kernel run to a few milliseconds.</summary>
public sealed record GeneratorOptions
{
    public int MinStatements { get; init; } = 10;
    public int MaxStatements { get; init; } = 40;
    public int MaxRegions { get; init; } = 3;

    /// <summary>Largest region; sizes are drawn around 512-page boundaries up to this.</summary>
    public long MaxRegionPages { get; init; } = 1100;

    public bool AllowThp { get; init; } = true;
    public bool AllowAsync { get; init; } = true;
}
