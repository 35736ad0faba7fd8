namespace FastPT.Scenarios.Backends;

/// <summary>
/// The /proc/vmstat counters that move when a thp region's layout changed behind the script's
/// back: a khugepaged collapse, or a huge page the fault path could not allocate.
/// </summary>
internal static class ThpCounters
{
    private static readonly string[] Names =
        ["thp_collapse_alloc", "thp_collapse_alloc_failed", "thp_fault_fallback", "thp_zero_page_alloc_failed"];

    public static Dictionary<string, long> Read()
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/vmstat"))
        {
            int space = line.IndexOf(' ');
            if (space > 0 && Array.IndexOf(Names, line[..space]) >= 0)
                result[line[..space]] = long.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return result;
    }
}
