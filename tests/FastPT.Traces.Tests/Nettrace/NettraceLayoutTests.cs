using System.Text;
using FastPT.Traces.Nettrace;

namespace FastPT.Traces.Tests.Nettrace;

/// <summary>
/// The layout check on hand-built files: a minimal valid trace passes, and each bound it
/// enforces (block sizes, field counts, nesting) refuses the file with the offset. Real traces
/// pass too: every committed trace replays through it (CommittedTracesTests).
/// </summary>
public class NettraceLayoutTests
{
    /// <summary>A .nettrace with the Trace header and one uncompressed MetadataBlock holding <paramref name="payload"/>.</summary>
    private static byte[] Trace(byte[] payload, int? blockSizeOverride = null)
    {
        var f = new MemoryStream();
        var w = new BinaryWriter(f);
        w.Write("Nettrace"u8);
        w.Write(20);
        w.Write("!FastSerialization.1"u8);
        Type(w, "Trace", 4);
        w.Write(new byte[48]);
        w.Write((byte)6);
        Type(w, "MetadataBlock", 2);
        var block = new MemoryStream();
        var b = new BinaryWriter(block);
        b.Write((short)20);
        b.Write((short)0);
        b.Write(0L);
        b.Write(0L);
        b.Write(76 + payload.Length); // EventSize: the header after it, and the payload
        b.Write(new byte[72]);        // metadata id .. related activity id
        b.Write(payload.Length);
        b.Write(payload);
        while (block.Length % 4 != 0)
            b.Write((byte)0); // blobs end on a 4-byte file offset; the block starts on one
        w.Write(blockSizeOverride ?? (int)block.Length);
        while (f.Position % 4 != 0)
            w.Write((byte)0);
        w.Write(block.ToArray());
        w.Write((byte)6);
        w.Write((byte)1); // end of stream
        return f.ToArray();
    }

    private static void Type(BinaryWriter w, string name, int version)
    {
        w.Write((byte)5);
        w.Write((byte)5);
        w.Write((byte)1);
        w.Write(version);
        w.Write(version);
        w.Write(name.Length);
        w.Write(Encoding.ASCII.GetBytes(name));
        w.Write((byte)6);
    }

    /// <summary>A metadata record whose one field nests <paramref name="depth"/> Object levels.</summary>
    private static byte[] Metadata(int depth, int? fieldCount = null)
    {
        var m = new MemoryStream();
        var w = new BinaryWriter(m);
        w.Write(1);
        w.Write(Encoding.Unicode.GetBytes("P\0"));
        w.Write(1);
        w.Write(Encoding.Unicode.GetBytes("E\0"));
        w.Write(0L);
        w.Write(0);
        w.Write(4);
        w.Write(fieldCount ?? 1);
        Field(w, depth);
        return m.ToArray();
    }

    private static void Field(BinaryWriter w, int depth)
    {
        if (depth == 0)
        {
            w.Write(9); // TypeCode.Int32
        }
        else
        {
            w.Write(1); // TypeCode.Object: a nested field list
            w.Write(1);
            Field(w, depth - 1);
        }
        w.Write(Encoding.Unicode.GetBytes("f\0"));
    }

    private static void Check(byte[] file) => NettraceLayout.Check(new MemoryStream(file), "t.nettrace");

    [Fact]
    public void A_minimal_trace_and_fields_nested_to_the_limit_pass()
    {
        Check(Trace(Metadata(0)));
        Check(Trace(Metadata(NettraceLayout.MaxFieldNesting)));
    }

    [Fact]
    public void Fields_nested_past_the_limit_are_refused()
    {
        var ex = Assert.Throws<TraceFormatException>(() => Check(Trace(Metadata(NettraceLayout.MaxFieldNesting + 1))));
        Assert.Contains($"nested deeper than {NettraceLayout.MaxFieldNesting} levels", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_count_beyond_the_record_is_refused_with_its_offset()
    {
        var ex = Assert.Throws<TraceFormatException>(() => Check(Trace(Metadata(0, fieldCount: 1000))));
        Assert.StartsWith("t.nettrace: offset 0x", ex.Message, StringComparison.Ordinal);
        Assert.Contains("a field count of 1000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_block_larger_than_the_file_is_refused()
    {
        var ex = Assert.Throws<TraceFormatException>(() => Check(Trace(Metadata(0), blockSizeOverride: 1 << 30)));
        Assert.Contains("MetadataBlock of 1073741824 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_cut_anywhere_is_refused_not_misread()
    {
        byte[] good = Trace(Metadata(2));
        for (int n = 0; n < good.Length; n++)
            Assert.Throws<TraceFormatException>(() => Check(good[..n]));
    }
}
