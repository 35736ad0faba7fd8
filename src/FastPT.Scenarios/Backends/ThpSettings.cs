namespace FastPT.Scenarios.Backends;

/// <summary>
/// The transparent-hugepage settings the goldens assume: anonymous mTHP sizes other than
/// 2 MiB off (else faults in thp regions could map 16-512 KiB folios), and for thp regions
/// THP not disabled and the huge zero page in use. Read once per process.
/// </summary>
internal static class ThpSettings
{
    private const string Dir = "/sys/kernel/mm/transparent_hugepage";

    private static readonly Lazy<string?> MthpProblem = new(FindMthpProblem);
    private static readonly Lazy<string?> ThpProblem = new(FindThpProblem);

    /// <summary>Throws when anonymous mTHP sizes would change what a fault maps.</summary>
    public static void CheckForAnyScript()
    {
        if (MthpProblem.Value is { } problem)
            throw new ScenarioEnvironmentException(problem);
    }

    /// <summary>Throws when a thp region could not get huge pages or the huge zero page.</summary>
    public static void CheckForThpRegion()
    {
        if (ThpProblem.Value is { } problem)
            throw new ScenarioEnvironmentException(problem);
    }

    private static string? Selected(string path) =>
        File.Exists(path) && File.ReadAllText(path) is var text && text.IndexOf('[') is >= 0 and var open
            ? text[(open + 1)..text.IndexOf(']', open)]
            : null;

    private static string? FindMthpProblem()
    {
        if (!Directory.Exists(Dir))
            return null;
        var top = Selected(Path.Combine(Dir, "enabled"));
        foreach (var sizeDir in Directory.GetDirectories(Dir, "hugepages-*kB"))
        {
            if (sizeDir.EndsWith("hugepages-2048kB", StringComparison.Ordinal))
                continue;
            var mode = Selected(Path.Combine(sizeDir, "enabled"));
            if (mode is null or "never" || (mode == "inherit" && top == "never"))
                continue;
            return $"{sizeDir}/enabled is [{mode}]: anonymous multi-size THP would change what faults map; " +
                   "the scenario oracle needs it [never] (echo never > that file)";
        }
        return null;
    }

    private static string? FindThpProblem()
    {
        var top = Selected(Path.Combine(Dir, "enabled"));
        if (top is null or "never")
            return $"{Dir}/enabled is [{top ?? "missing"}]: thp regions need transparent huge pages (madvise or always)";
        var zero = Path.Combine(Dir, "use_zero_page");
        if (File.Exists(zero) && File.ReadAllText(zero).Trim() != "1")
            return $"{zero} is not 1: thp regions expect reads to map the huge zero page";
        return null;
    }
}
