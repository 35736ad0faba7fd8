using FastPT.Scenarios.Backends;

namespace FastPT.Scenarios.Language;

/// <summary>Pages First..First+Count-1 of a region (region-relative, Count ≥ 1, inside the region).</summary>
public readonly record struct PageRange(string Region, long First, long Count)
{
    public long Last => First + Count - 1;
}

/// <summary>One validated statement; Line is 1-based in the script text.</summary>
public abstract record Statement(int Line);

public sealed record RegionStatement(int Line, string Name, RegionKind Kind, long Pages, bool Wp, bool Unpopulated, bool Async, bool Thp)
    : Statement(Line)
{
    public RegionSpec ToSpec() => new(Name, Kind, Pages, Wp, Thp);
}

/// <summary>`read RANGE` (Write=false) or `write RANGE`.</summary>
public sealed record AccessStatement(int Line, PageRange Range, bool Write) : Statement(Line);

public sealed record ZapStatement(int Line, PageRange Range) : Statement(Line);

/// <summary>`wp RANGE` (Protect=true) or `unwp RANGE`.</summary>
public sealed record WriteProtectStatement(int Line, PageRange Range, bool Protect) : Statement(Line);

public sealed record ProtectStatement(int Line, PageRange Range, Protection Protection) : Statement(Line);

public sealed record UnregisterStatement(int Line, string Region) : Statement(Line);

/// <summary>`pagemap`; Echo is the statement line as the report prints it.</summary>
public sealed record PagemapStatement(int Line, PageRange Range, string Echo) : Statement(Line);

/// <summary>`scan`; Echo is the statement line as the report prints it.</summary>
public sealed record ScanStatement(int Line, PageRange Range, ScanRequest Request, string Echo) : Statement(Line);
