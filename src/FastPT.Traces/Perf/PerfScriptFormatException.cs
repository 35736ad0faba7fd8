namespace FastPT.Traces.Perf;

/// <summary>A `perf script` text that cannot be read: says where and how to produce a readable one.</summary>
public sealed class PerfScriptFormatException(string message) : FormatException(message);
