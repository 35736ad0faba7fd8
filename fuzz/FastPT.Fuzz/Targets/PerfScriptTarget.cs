using System.Text;
using FastPT.Traces.Operations;
using FastPT.Traces.Perf;

namespace FastPT.Fuzz.Targets;

/// <summary>
/// `perf script` text through <see cref="PerfScriptParser"/> and <see cref="PerfImporter"/>, as
/// `fastpt record` runs them: a bad line is a <see cref="PerfScriptFormatException"/> naming the
/// source and line. What the importer emits must be replayable: page-aligned, non-empty ranges
/// inside the user address space.
/// </summary>
internal static class PerfScriptTarget
{
    private const string Source = "fuzz.perf-script";

    public static void Run(byte[] input)
    {
        var parser = new PerfScriptParser(new StringReader(Encoding.UTF8.GetString(input)), Source);
        var importer = new PerfImporter(Check);
        try
        {
            foreach (PerfEvent e in parser.Read())
                importer.Add(e);
        }
        catch (PerfScriptFormatException e)
        {
            Contract.ClearMessage(e.Message, Source + ":");
            return;
        }
        foreach (string w in parser.Warnings)
            Contract.ClearMessage(w, Source + ":");
    }

    private static void Check(TraceOperation op)
    {
        if (op.Kind is TraceOpKind.SpaceCreated or TraceOpKind.SpaceDisposed)
            return;
        if (op.Kind == TraceOpKind.Access)
        {
            Contract.That(op.Start < PerfEvent.UserEnd && (op.Start & 0xFFF) == 0, $"importer emitted an access at 0x{op.Start:x}");
            return;
        }
        Contract.That(op.Length > 0 && (op.Start & 0xFFF) == 0 && (op.Length & 0xFFF) == 0
            && op.Start + op.Length > op.Start && op.Start + op.Length <= PerfEvent.UserEnd,
            $"importer emitted {op.Kind} of [0x{op.Start:x}, +0x{op.Length:x}), not a page-aligned non-empty range of user space");
    }
}
