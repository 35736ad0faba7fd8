namespace FastPT.Scenarios.Generation;

/// <summary>
/// Shape of generated scripts. Defaults keep one kernel run to a few milliseconds. The
/// percentages below are 0 by default; with all of them 0 a seed gives the same script it
/// always gave (they draw random numbers only when set).
/// </summary>
public sealed record GeneratorOptions
{
    public int MinStatements { get; init; } = 10;
    public int MaxStatements { get; init; } = 40;
    public int MaxRegions { get; init; } = 3;

    /// <summary>Largest region; sizes are drawn around 512-page boundaries up to this.</summary>
    public long MaxRegionPages { get; init; } = 1100;

    public bool AllowThp { get; init; } = true;
    public bool AllowAsync { get; init; } = true;

    /// <summary>Chance (percent) that a region is larger than 1 GiB (262144 pages and a bit), so it crosses a 1 GiB boundary.</summary>
    public int LargeRegionPercent { get; init; }

    /// <summary>Extra chance (percent) that an anonymous region is <c>thp</c>.</summary>
    public int ExtraThpPercent { get; init; }

    /// <summary>Chance (percent) that a region drawn as anonymous becomes a file region instead.</summary>
    public int ExtraFilePercent { get; init; }

    /// <summary>Extra chance (percent) that the script's userfaultfd is in async mode.</summary>
    public int ExtraAsyncPercent { get; init; }

    /// <summary>Chance (percent) that a statement goes to the first region: long sequences on one region.</summary>
    public int FocusPercent { get; init; }

    /// <summary>
    /// Chance (percent) that a statement is one of the targeted patterns instead: protect/unprotect
    /// ping-pong, fault-around next to a protect edge, whole-2 MiB-extent zap/wp/write/scan,
    /// unregister and re-use, <c>scan ... wp max=N</c>.
    /// </summary>
    public int PatternPercent { get; init; }

    /// <summary>
    /// Chance (percent) that a statement is a scan instead, half of them with <c>wp</c> and
    /// mostly over whole or partly covered 2 MiB extents: the scan mix (filters, max, runs that
    /// cross THPs and holes, WP_MATCHING in async mode).
    /// </summary>
    public int ScanPercent { get; init; }

    /// <summary>
    /// Chance (percent) that a statement is a round of dirty tracking instead: a few scattered
    /// writes, then a scan of the whole region with <c>wp</c>, one to three times, so rescans
    /// meet tables an earlier scan left unwritten (which the model remembers and skips).
    /// </summary>
    public int RoundsPercent { get; init; }

    /// <summary>
    /// The exploring profile of the second differential test: bigger and more THP regions,
    /// async mode more often, long sequences and the targeted patterns.
    /// </summary>
    public static GeneratorOptions Explore { get; } = new()
    {
        MinStatements = 20,
        MaxStatements = 70,
        MaxRegionPages = 2600,
        LargeRegionPercent = 12,
        ExtraThpPercent = 35,
        ExtraAsyncPercent = 25,
        FocusPercent = 50,
        PatternPercent = 35,
    };

    /// <summary>The scan mix of the third differential test: async mode and THP regions often, scans a third of the time.</summary>
    public static GeneratorOptions Scan { get; } = new()
    {
        MinStatements = 15,
        MaxStatements = 50,
        MaxRegionPages = 2100,
        ExtraThpPercent = 40,
        ExtraAsyncPercent = 60,
        FocusPercent = 30,
        PatternPercent = 15,
        ScanPercent = 35,
        RoundsPercent = 8,
    };

    /// <summary>
    /// Named profiles for long local runs: <c>default</c>, <c>explore</c>, and variations of
    /// explore that lean on async mode, on regions over 1 GiB, on the targeted patterns, on
    /// long sequences on one region, on THP regions, or on file regions (fault-around).
    /// </summary>
    public static GeneratorOptions Profile(string name) => name switch
    {
        "default" => new GeneratorOptions(),
        "explore" => Explore,
        "async" => Explore with { ExtraAsyncPercent = 100, ExtraThpPercent = 50, FocusPercent = 60 },
        "large" => Explore with { LargeRegionPercent = 70, MaxRegions = 2 },
        "patterns" => Explore with { PatternPercent = 65, MaxStatements = 50 },
        "long" => Explore with { MinStatements = 120, MaxStatements = 250, MaxRegions = 1, FocusPercent = 100 },
        "thp" => Explore with { ExtraThpPercent = 100, MaxRegionPages = 1600, PatternPercent = 45 },
        "file" => Explore with { ExtraFilePercent = 70, PatternPercent = 50 },
        "scan" => Scan,
        _ => throw new ArgumentException($"unknown generator profile '{name}'; use default, explore, async, large, patterns, long, thp, file or scan", nameof(name)),
    };
}
