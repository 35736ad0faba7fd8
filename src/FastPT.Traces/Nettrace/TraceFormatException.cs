namespace FastPT.Traces.Nettrace;

/// <summary>A trace file that cannot be read: names the file and what is wrong with it.</summary>
public sealed class TraceFormatException(string message, Exception? inner = null) : Exception(message, inner);
