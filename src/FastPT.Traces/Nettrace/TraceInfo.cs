namespace FastPT.Traces.Nettrace;

/// <summary>The TraceInfo event: where a trace came from.</summary>
public sealed record TraceInfo(string Tool, string Command, long LostEvents, long SkippedLines);
