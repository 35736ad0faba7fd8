using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace FastPT.Traces.Nettrace;

/// <summary>
/// Checks the structure of a .nettrace (EventPipe format V4/V5, as .NET runtimes write it) before
/// TraceEvent parses it: every length and count must fit inside its block. TraceEvent trusts them,
/// and a fuzzed file made it loop for minutes over a metadata field count of millions (see
/// docs/fuzzing.md), so nothing reaches it that this pass has not bounded. The pass is linear in
/// the file size and reads one block at a time. Layout: docs/traces.md, "Reading untrusted files".
/// </summary>
internal static class NettraceLayout
{
    private const byte NullReference = 1, BeginPrivateObject = 5, EndObject = 6;
    private const int TraceFieldsBytes = 8 * 2 + 8 + 8 + 4 * 4; // SyncTimeUTC, QPC, frequency, 4 ints
    private const int UncompressedHeaderBytes = 4 + 4 + 8 + 8 + 4 + 4 + 8 + 16 + 16 + 4; // after EventSize
    private const int MaxTypeNameBytes = 64;

    /// <summary>How deep Object fields may nest in event metadata (a parser that recurses per level stays shallow; real events nest a level or two).</summary>
    internal const int MaxFieldNesting = 16;

    /// <summary>
    /// Reads <paramref name="stream"/> from its position to the end-of-stream tag and throws
    /// <see cref="TraceFormatException"/> naming <paramref name="name"/> and the offset of the
    /// first thing that does not fit. The stream is left wherever the check stopped.
    /// </summary>
    public static void Check(Stream stream, string name)
    {
        var r = new StreamCursor(stream, name);
        if (!r.Bytes(8).SequenceEqual("Nettrace"u8))
            throw r.Error(0, "no 'Nettrace' magic at the start; this is not a .nettrace (EventPipe) file");
        if (r.Int32() != 20 || !r.Bytes(20).SequenceEqual("!FastSerialization.1"u8))
            throw r.Error(8, "no '!FastSerialization.1' header after the magic");
        bool sawTrace = false;
        while (true)
        {
            long at = r.Offset;
            byte tag = r.Byte();
            if (tag == NullReference)
                break;
            if (tag != BeginPrivateObject)
                throw r.Error(at, $"expected an object (tag 5) or the end of the stream (tag 1), found byte {tag}");
            string type = ObjectType(ref r);
            if (!sawTrace && type != "Trace")
                throw r.Error(at, $"the first object is '{type}', not the Trace header");
            switch (type)
            {
                case "Trace":
                    if (sawTrace)
                        throw r.Error(at, "a second Trace header");
                    sawTrace = true;
                    r.Bytes(TraceFieldsBytes);
                    break;
                case "EventBlock":
                case "MetadataBlock":
                case "StackBlock":
                case "SPBlock":
                    Block(ref r, type);
                    break;
                default:
                    throw r.Error(at, $"unknown object type '{type}' (expected Trace, EventBlock, MetadataBlock, StackBlock or SPBlock)");
            }
            long end = r.Offset;
            if (r.Byte() != EndObject)
                throw r.Error(end, $"the {type} object does not end with the end-of-object tag 6");
        }
        if (!sawTrace)
            throw r.Error(r.Offset - 1, "the stream ends before the Trace header");
    }

    /// <summary>The type part of an object: BeginPrivateObject, NullReference, version, minimum reader version, name, EndObject.</summary>
    private static string ObjectType(ref StreamCursor r)
    {
        long at = r.Offset;
        if (r.Byte() != BeginPrivateObject || r.Byte() != NullReference)
            throw r.Error(at, "an object without its type header (tags 5, 1)");
        int version = r.Int32(), minReader = r.Int32(), length = r.Int32();
        if (length is <= 0 or > MaxTypeNameBytes)
            throw r.Error(at, $"an object type name of {length} bytes");
        string type = Printable(r.Bytes(length));
        if (r.Byte() != EndObject)
            throw r.Error(at, $"the type header of '{type}' does not end with tag 6");
        // Trace 4 is format V4/V5 (V5 only adds metadata tags, which are checked below); blocks are version 2.
        int expected = type == "Trace" ? 4 : 2;
        if (minReader > expected || version < minReader)
            throw r.Error(at, $"'{type}' version {version} (minimum reader version {minReader}) is not a format FastPT reads (it reads {type} version {expected}, .nettrace V4/V5)");
        return type;
    }

    /// <summary>A block: size, padding to a 4-byte file offset, then the content, checked per kind.</summary>
    private static void Block(ref StreamCursor r, string type)
    {
        long at = r.Offset;
        int size = r.Int32();
        if (size < 0 || size > r.Remaining)
            throw r.Error(at, $"{type} of {size} bytes, but {r.Remaining} bytes are left in the file");
        r.Bytes((int)((4 - (r.Offset & 3)) & 3));
        long start = r.Offset;
        byte[] rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var b = new SpanCursor(rented.AsSpan(0, size), start, r);
            r.ReadInto(rented.AsSpan(0, size));
            switch (type)
            {
                case "EventBlock": Events(ref b, metadata: false); break;
                case "MetadataBlock": Events(ref b, metadata: true); break;
                case "StackBlock":
                {
                    b.Int32(); // first id
                    int count = b.Count("stack count", 4);
                    for (int i = 0; i < count; i++)
                        b.Skip(b.Count("stack size", 1));
                    break;
                }
                case "SPBlock":
                {
                    b.Int64(); // timestamp
                    int threads = b.Count("thread count", 12);
                    b.Skip(threads * 12);
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>An event or metadata block: header, then event blobs (compressed or not) filling it exactly.</summary>
    private static void Events(ref SpanCursor b, bool metadata)
    {
        long at = b.Offset;
        int headerSize = b.Int16();
        int flags = b.Int16();
        if (headerSize < 20 || headerSize - 4 > b.Left)
            throw b.Error(at, $"a block header of {headerSize} bytes");
        b.Skip(headerSize - 4);
        bool compressed = (flags & 1) != 0;
        int payloadSize = 0;
        while (b.Left > 0)
        {
            long blob = b.Offset;
            ReadOnlySpan<byte> payload;
            if (compressed)
            {
                byte f = b.Byte();
                if ((f & 1) != 0) b.VarInt(5);
                if ((f & 2) != 0) { b.VarInt(5); b.VarInt(10); b.VarInt(5); }
                if ((f & 4) != 0) b.VarInt(10);
                if ((f & 8) != 0) b.VarInt(5);
                b.VarInt(10); // timestamp
                if ((f & 16) != 0) b.Skip(16);
                if ((f & 32) != 0) b.Skip(16);
                if ((f & 128) != 0)
                {
                    ulong n = b.VarInt(5);
                    if (n > int.MaxValue)
                        throw b.Error(blob, $"an event payload of {n} bytes");
                    payloadSize = (int)n;
                }
                if (payloadSize > b.Left)
                    throw b.Error(blob, $"an event payload of {payloadSize} bytes, but {b.Left} bytes are left in the block");
                payload = b.Take(payloadSize);
            }
            else
            {
                int eventSize = b.Int32();
                if (eventSize < UncompressedHeaderBytes || eventSize > b.Left)
                    throw b.Error(blob, $"an event of {eventSize} bytes, with {b.Left} bytes left in the block");
                b.Skip(UncompressedHeaderBytes - 4);
                payloadSize = b.Int32();
                if (payloadSize < 0 || payloadSize > eventSize - UncompressedHeaderBytes)
                    throw b.Error(blob, $"an event payload of {payloadSize} bytes in an event of {eventSize} bytes");
                payload = b.Take(payloadSize);
                b.Skip(Math.Min(b.Left, (int)((4 - (b.Offset & 3)) & 3)));
            }
            if (metadata)
                Metadata(new SpanCursor(payload, b.Offset - payloadSize, b));
        }
    }

    /// <summary>
    /// A metadata record: id, provider, event id, name, keywords, version, level, the V1 field
    /// list, then tags (V5); a V2Params tag holds a second field list.
    /// </summary>
    private static void Metadata(SpanCursor m)
    {
        m.Int32();
        m.String("provider name");
        m.Int32();
        m.String("event name");
        m.Skip(8 + 4 + 4);
        if (m.Left == 0)
            return; // V4 writers may end a field-less record here
        FieldsV1(ref m, 0);
        while (m.Left > 0)
        {
            long at = m.Offset;
            int tagBytes = m.Int32();
            byte kind = m.Byte();
            if (tagBytes < 0 || tagBytes > m.Left)
                throw m.Error(at, $"a metadata tag of {tagBytes} bytes, with {m.Left} left");
            var tag = new SpanCursor(m.Take(tagBytes), m.Offset - tagBytes, m);
            if (kind == 2)
                FieldsV2(ref tag, 0);
        }
    }

    private static void FieldsV1(ref SpanCursor m, int depth)
    {
        long at = m.Offset;
        if (depth > MaxFieldNesting)
            throw m.Error(at, $"event fields nested deeper than {MaxFieldNesting} levels");
        int count = m.Count("field count", 6); // a type code and an empty name at least
        for (int i = 0; i < count; i++)
        {
            if (m.Int32() == 1) // TypeCode.Object: a nested field list
                FieldsV1(ref m, depth + 1);
            m.String("field name");
        }
    }

    private static void FieldsV2(ref SpanCursor m, int depth)
    {
        long at = m.Offset;
        if (depth > MaxFieldNesting)
            throw m.Error(at, $"event fields nested deeper than {MaxFieldNesting} levels");
        int count = m.Count("V2 field count", 4);
        for (int i = 0; i < count; i++)
        {
            long fieldAt = m.Offset;
            int size = m.Int32();
            if (size < 4 || size - 4 > m.Left)
                throw m.Error(fieldAt, $"a V2 field definition of {size} bytes, with {m.Left} left");
            var f = new SpanCursor(m.Take(size - 4), m.Offset - (size - 4), m);
            f.String("field name");
            int code = f.Int32();
            if (code == 19) // array: element type follows
                code = f.Int32();
            if (code == 1)
                FieldsV2(ref f, depth + 1);
        }
    }

    /// <summary>A name from the file as messages may show it: printable ASCII, anything else as \xNN.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var s = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            if (b is >= 0x20 and < 0x7F)
                s.Append((char)b);
            else
                s.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
        }
        return s.ToString();
    }

    /// <summary>Sequential reads from the file with offsets for messages; running out is an error.</summary>
    private ref struct StreamCursor(Stream stream, string name)
    {
        private readonly long _origin = stream.Position;
        private readonly long _length = stream.Length;
        private byte[] _small = new byte[MaxTypeNameBytes];

        public readonly string Name = name;

        public readonly long Offset => stream.Position - _origin;

        public readonly long Remaining => _length - stream.Position;

        public readonly TraceFormatException Error(long offset, string what) =>
            new($"{Name}: offset 0x{offset:x}: {what}; the file is corrupt, truncated or not written by .NET's EventPipe (re-record it with `fastpt record`).");

        public void ReadInto(Span<byte> into)
        {
            if (into.Length > Remaining)
                throw Error(Offset, $"the file ends {into.Length - Remaining} bytes early");
            stream.ReadExactly(into);
        }

        public ReadOnlySpan<byte> Bytes(int n)
        {
            if (n > _small.Length)
                _small = new byte[n];
            Span<byte> s = _small.AsSpan(0, n);
            ReadInto(s);
            return s;
        }

        public byte Byte() => Bytes(1)[0];

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));
    }

    /// <summary>Reads inside one block (or part of one); running past its end is an error.</summary>
    private ref struct SpanCursor
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly long _base;
        private readonly string _name;
        private int _at;

        public SpanCursor(ReadOnlySpan<byte> data, long fileOffset, in StreamCursor file)
        {
            _data = data;
            _base = fileOffset;
            _name = file.Name;
        }

        public SpanCursor(ReadOnlySpan<byte> data, long fileOffset, in SpanCursor parent)
        {
            _data = data;
            _base = fileOffset;
            _name = parent._name;
        }

        public readonly long Offset => _base + _at;

        public readonly int Left => _data.Length - _at;

        public readonly TraceFormatException Error(long offset, string what) =>
            new($"{_name}: offset 0x{offset:x}: {what}; the file is corrupt, truncated or not written by .NET's EventPipe (re-record it with `fastpt record`).");

        public ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > Left)
                throw Error(Offset, $"{n} bytes needed, {Left} left in the block");
            var s = _data.Slice(_at, n);
            _at += n;
            return s;
        }

        public void Skip(int n) => Take(n);

        public byte Byte() => Take(1)[0];

        public short Int16() => BinaryPrimitives.ReadInt16LittleEndian(Take(2));

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        /// <summary>A count of items of at least <paramref name="minItemBytes"/> each, which must fit in what is left.</summary>
        public int Count(string what, int minItemBytes)
        {
            long at = Offset;
            int n = Int32();
            if (n < 0 || (long)n * minItemBytes > Left)
                throw Error(at, $"a {what} of {n}, but only {Left} bytes follow");
            return n;
        }

        /// <summary>A little-endian base-128 number of at most <paramref name="maxBytes"/> bytes.</summary>
        public ulong VarInt(int maxBytes)
        {
            long at = Offset;
            ulong value = 0;
            for (int i = 0; i < maxBytes; i++)
            {
                byte b = Byte();
                value |= (ulong)(b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0)
                    return value;
            }
            throw Error(at, $"a variable-length number longer than {maxBytes} bytes");
        }

        /// <summary>A NUL-terminated UTF-16 string, which must end inside the record.</summary>
        public void String(string what)
        {
            long at = Offset;
            var rest = _data[_at..];
            for (int i = 0; i + 1 < rest.Length; i += 2)
            {
                if (rest[i] == 0 && rest[i + 1] == 0)
                {
                    _at += i + 2;
                    return;
                }
            }
            throw Error(at, $"the {what} has no terminating NUL inside its record");
        }
    }
}
