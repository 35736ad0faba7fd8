using FastPT.Traces.Nettrace;
using FastPT.Traces.Operations;

namespace FastPT.Traces.Tests.Nettrace;

[Collection(EventPipeCollection.Name)]
public class CorruptTraceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-corrupt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Good()
    {
        string path = Path.Combine(_dir, "good.nettrace");
        NettraceWriter.Record(path, () => NettraceWriter.Emit(NettraceRoundTripTests.Sample(20000, seed: 2)));
        return path;
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var ex = Assert.Throws<TraceFormatException>(() => NettraceReader.ReadAll(Path.Combine(_dir, "nope.nettrace")));
        Assert.Contains("no such trace file", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_nettrace_is_a_clear_error()
    {
        string path = Path.Combine(_dir, "text.nettrace");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("this is a perf script text, not a nettrace\n", 200)));
        var ex = Assert.Throws<TraceFormatException>(() => NettraceReader.ReadAll(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_file_is_a_clear_error()
    {
        string path = Path.Combine(_dir, "empty.nettrace");
        File.WriteAllBytes(path, []);
        var ex = Assert.Throws<TraceFormatException>(() => NettraceReader.ReadAll(path));
        Assert.Contains("too short", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.05)]
    public void A_truncated_trace_is_a_clear_error(double keep)
    {
        byte[] bytes = File.ReadAllBytes(Good());
        string path = Path.Combine(_dir, "cut.nettrace");
        File.WriteAllBytes(path, bytes.AsSpan(0, (int)(bytes.Length * keep)).ToArray());
        var ex = Assert.Throws<TraceFormatException>(() => NettraceReader.ReadAll(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    // Nettrace has no checksums, and a recording's layout varies from run to run (block sizes,
    // stack and rundown blocks). Bytes flipped inside what the reader skips (another provider's
    // events, stacks) change nothing it returns; anywhere else they must be a clear error. So the
    // test flips 64 bytes at 40 places across the file and holds each outcome to that rule: an
    // error naming the file, or exactly the operations of the untouched trace. Never a different
    // list of operations, never another exception.
    [Fact]
    public void Flipped_bytes_are_a_clear_error_or_change_nothing_the_reader_returns()
    {
        string good = Good();
        byte[] original = File.ReadAllBytes(good);
        List<TraceOperation> expected = NettraceReader.ReadAll(good).Operations;
        string path = Path.Combine(_dir, "flip.nettrace");
        int errors = 0;
        const int Places = 40;
        for (int k = 0; k < Places; k++)
        {
            int at = (int)((long)(original.Length - 64) * k / (Places - 1));
            byte[] bytes = (byte[])original.Clone();
            for (int i = at; i < at + 64; i++)
                bytes[i] ^= 0xA5;
            File.WriteAllBytes(path, bytes);
            try
            {
                Assert.True(expected.SequenceEqual(NettraceReader.ReadAll(path).Operations),
                    $"64 bytes flipped at offset {at} of {original.Length} read back as different operations, with no error");
            }
            catch (TraceFormatException e)
            {
                Assert.Contains(path, e.Message, StringComparison.Ordinal);
                errors++;
            }
        }
        // Most of the file is FastPT's own event blocks: most places must be caught.
        Assert.True(errors > Places / 2, $"only {errors} of {Places} corrupted copies were refused");
    }

    // A fuzzing finding (docs/fuzzing.md): one metadata record claiming 2.1 billion fields made
    // TraceEvent allocate ~17 GB and run for half a minute. The layout check refuses it first.
    [Fact]
    public void A_metadata_field_count_larger_than_its_record_is_refused_before_TraceEvent_reads_it()
    {
        string path = Path.Combine(Replay.CommittedTracesTests.RepoRoot(), "fuzz", "regressions", "nettrace", "metadata-field-count.nettrace");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<TraceFormatException>(() => NettraceReader.ReadAll(path));
        Assert.Contains("offset 0xf2: a field count of 2137717504, but only 64 bytes follow", ex.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "the refusal allocated more than 16 MiB");
    }

    // A fuzzing finding: an object type name with a newline in it split the error over two lines.
    [Fact]
    public void Names_from_the_file_are_escaped_so_the_error_stays_one_line()
    {
        string path = Path.Combine(Replay.CommittedTracesTests.RepoRoot(), "fuzz", "regressions", "nettrace", "type-name-with-newline.nettrace");
        var ex = Assert.Throws<TraceFormatException>(() => NettraceReader.ReadAll(path));
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("\\x0a", ex.Message, StringComparison.Ordinal);
    }
}
