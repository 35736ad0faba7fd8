namespace FastPT.Traces.Replay;

/// <summary>
/// Whether this machine's transparent-hugepage settings would give the kernel target's mappings
/// huge or multi-size folios without being asked (the engine maps 4 KiB pages unless a mapping
/// asks for THP, and traces never do): then each mapping opts out with MADV_NOHUGEPAGE, one more
/// system call per mmap. Debian's defaults (anonymous [madvise], shmem [never]) need none.
/// Read once per process.
/// </summary>
internal static class ThpPolicy
{
    private const string Dir = "/sys/kernel/mm/transparent_hugepage";
    private static readonly Lazy<bool> Anon = new(() => AnonUnasked());
    private static readonly Lazy<bool> Shmem = new(() => Selected(Path.Combine(Dir, "shmem_enabled")) switch
    {
        "always" or "within_size" => true,
        "force" => throw new InvalidOperationException($"{Dir}/shmem_enabled is [force]: every shmem mapping gets huge pages and MADV_NOHUGEPAGE cannot opt out; the kernel target needs it [never] or [advise] (echo never > that file)"),
        _ => false,
    });

    public static bool MustOptOut(Operations.TraceRegionKind kind) =>
        kind == Operations.TraceRegionKind.Anon ? Anon.Value : Shmem.Value;

    private static bool AnonUnasked()
    {
        string? top = Selected(Path.Combine(Dir, "enabled"));
        if (top == "always")
            return true;
        if (!Directory.Exists(Dir))
            return false;
        foreach (string size in Directory.GetDirectories(Dir, "hugepages-*kB"))
        {
            string? mode = Selected(Path.Combine(size, "enabled"));
            if (mode == "always" || (mode == "inherit" && top == "always"))
                return true;
        }
        return false;
    }

    private static string? Selected(string path) =>
        File.Exists(path) && File.ReadAllText(path) is var text && text.IndexOf('[') is >= 0 and var open
            ? text[(open + 1)..text.IndexOf(']', open)]
            : null;
}
