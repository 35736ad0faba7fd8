namespace FastPT.Scenarios.Running;

/// <summary>The report's four pagemap letters: P (bit 63), S (62), W (57), F (61).</summary>
public static class PagemapState
{
    private const ulong Present = 1UL << 63, Swap = 1UL << 62, UffdWp = 1UL << 57, File = 1UL << 61;

    /// <summary>The bits the report shows; entries with equal values print the same letters.</summary>
    public static ulong Of(ulong entry) => entry & (Present | Swap | UffdWp | File);

    public static string Format(ulong entry) => string.Create(4, entry, static (span, e) =>
    {
        span[0] = (e & Present) != 0 ? 'P' : '-';
        span[1] = (e & Swap) != 0 ? 'S' : '-';
        span[2] = (e & UffdWp) != 0 ? 'W' : '-';
        span[3] = (e & File) != 0 ? 'F' : '-';
    });
}
