using FastPT.Fuzz.Targets;

namespace FastPT.Fuzz;

/// <summary>
/// Every fuzz target. Adding one is a line here, a static class under Targets/ with
/// <c>Run(byte[])</c>, and a seed folder fuzz/seeds/NAME; the corpus replay test picks up
/// fuzz/corpus/NAME by itself.
/// </summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("script", "scenario scripts (Script.Parse)", ScriptTarget.Run),
        new("perf-script", "`perf script` text (PerfScriptParser, then PerfImporter)", PerfScriptTarget.Run),
        new("nettrace", ".nettrace files (NettraceReader on TraceEvent)", NettraceTarget.Run),
        new("guest-tables", "page tables in guest RAM, walked by Translate, the TLB and the range verbs (AddressSpace.Attach)", GuestTablesTarget.Run),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
