using FastPT.Traces.Nettrace;

namespace FastPT.Fuzz.Targets;

/// <summary>
/// .nettrace bytes through <see cref="NettraceReader"/>: a file it cannot read is a
/// <see cref="TraceFormatException"/> naming the file; whatever TraceEvent does with malformed
/// input (other exceptions, endless loops) must be contained by the reader.
/// </summary>
internal static class NettraceTarget
{
    private const string Source = "fuzz.nettrace";

    public static void Run(byte[] input)
    {
        try
        {
            NettraceReader.Read(new MemoryStream(input, writable: false), Source, _ => { });
        }
        catch (TraceFormatException e)
        {
            Contract.ClearMessage(e.Message, Source + ":");
            // Running out of memory is not a clear refusal: it means a trusted length asked for too much.
            for (Exception? x = e.InnerException; x is not null; x = x.InnerException)
                Contract.That(x is not OutOfMemoryException, $"refused only after running out of memory: {e.Message}");
        }
    }
}
