using System.Globalization;
using System.Text.RegularExpressions;

namespace FastPT.Traces.Perf;

/// <summary>
/// Reads the text of `perf script -F comm,pid,tid,time,event,trace --show-lost-events`.
/// Our own parser because TraceEvent yields tracepoints as raw text only. Rules:
/// thread names may contain spaces (the line is anchored on "PID/TID TIME:" instead);
/// `PERF_RECORD_LOST` lines are counted; events we did not ask for are skipped and counted;
/// a malformed or truncated *last* line (perf killed mid-write) is a warning; a malformed
/// line anywhere else is an error naming the line, since the capture cannot be trusted.
/// </summary>
public sealed partial class PerfScriptParser
{
    private const int MaxWarnings = 20;
    private readonly TextReader _reader;
    private readonly string _source;
    private readonly List<string> _warnings = [];

    public PerfScriptParser(TextReader reader, string sourceName)
    {
        _reader = reader;
        _source = sourceName;
    }

    /// <summary>Sum of the counts of all PERF_RECORD_LOST lines.</summary>
    public long LostEvents { get; private set; }

    /// <summary>Lines skipped: other events, and a truncated last line.</summary>
    public long SkippedLines { get; private set; }

    public long LinesRead { get; private set; }

    public IReadOnlyList<string> Warnings => _warnings;

    // "   thread name with spaces  1234/1235    278.689318:  exceptions:page_fault_user: address=..."
    // NonBacktracking: linear in the line; the backtracking engine took minutes on a fuzzed line of digits and spaces (docs/fuzzing.md).
    [GeneratedRegex(@"^\s*(?<comm>.*?)\s+(?<pid>-?\d+)/(?<tid>-?\d+)\s+(?<time>\d+\.\d+):\s+(?<rest>.*)$", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking)]
    private static partial Regex HeaderRegex();

    public IEnumerable<PerfEvent> Read()
    {
        string? line = _reader.ReadLine();
        while (line is not null)
        {
            string? next = _reader.ReadLine();
            LinesRead++;
            if (line.Length != 0)
            {
                var (ok, ev, error) = ParseLine(line, LinesRead);
                if (ok)
                {
                    if (ev.Kind == PerfEventKind.Lost)
                    {
                        LostEvents += (long)ev.A;
                        Warn($"{_source}:{LinesRead}: perf lost {ev.A} events here; the capture has a gap (record with a bigger buffer, e.g. perf record -m 1024)");
                    }
                    else
                    {
                        yield return ev;
                    }
                }
                else if (error is null)
                {
                    SkippedLines++;
                }
                else if (next is null)
                {
                    SkippedLines++;
                    Warn($"{_source}:{LinesRead}: last line is truncated or malformed ({error}); ignored: \"{Clip(line)}\"");
                }
                else
                {
                    throw new PerfScriptFormatException(
                        $"{_source}:{LinesRead}: cannot read this perf script line ({error}): \"{Clip(line)}\". " +
                        "Expected 'COMM PID/TID SECONDS: EVENT: FIELDS' as printed by " +
                        "`perf script -F comm,pid,tid,time,event,trace --show-lost-events`.");
                }
            }
            line = next;
        }
    }

    private void Warn(string message)
    {
        if (_warnings.Count < MaxWarnings)
            _warnings.Add(message);
        else if (_warnings.Count == MaxWarnings)
            _warnings.Add($"{_source}: further warnings suppressed");
    }

    private static string Clip(string s) => s.Length <= 160 ? s : s[..160] + "...";

    /// <summary>ok: an event we use. !ok and error null: a well-formed line of another event.</summary>
    internal static (bool Ok, PerfEvent Event, string? Error) ParseLine(string line, long lineNumber)
    {
        Match m = HeaderRegex().Match(line);
        if (!m.Success)
            return (false, default, "no 'PID/TID TIME:' header");
        if (!int.TryParse(m.Groups["pid"].ValueSpan, NumberStyles.Integer, CultureInfo.InvariantCulture, out int pid)
            || !int.TryParse(m.Groups["tid"].ValueSpan, NumberStyles.Integer, CultureInfo.InvariantCulture, out int tid))
            return (false, default, "pid or tid out of range");
        double time = double.Parse(m.Groups["time"].ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture);
        string comm = m.Groups["comm"].Value;
        string rest = m.Groups["rest"].Value;

        if (rest.StartsWith("PERF_RECORD_LOST", StringComparison.Ordinal))
        {
            // "PERF_RECORD_LOST lost 21" (or "... lost: 21" in some perf versions)
            int at = rest.LastIndexOf(' ');
            return ulong.TryParse(rest.AsSpan(at + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong lost)
                ? (true, new PerfEvent(PerfEventKind.Lost, pid, tid, comm, time, lost, LineNumber: lineNumber), null)
                : (false, default, "PERF_RECORD_LOST without a count");
        }

        int colon = rest.IndexOf(':', StringComparison.Ordinal);
        int colon2 = colon < 0 ? -1 : rest.IndexOf(':', colon + 1);
        if (colon2 < 0)
            return (false, default, "no 'subsystem:event:' name");
        string name = rest[..colon2];
        ReadOnlySpan<char> fields = rest.AsSpan(colon2 + 1).Trim();

        PerfEventKind kind;
        string[] keys;
        switch (name)
        {
            case "exceptions:page_fault_user": kind = PerfEventKind.PageFault; keys = ["address", "error_code"]; break;
            case "syscalls:sys_enter_mmap": kind = PerfEventKind.EnterMmap; keys = ["addr", "len", "prot", "flags"]; break;
            case "syscalls:sys_enter_munmap": kind = PerfEventKind.EnterMunmap; keys = ["addr", "len"]; break;
            case "syscalls:sys_enter_mprotect": kind = PerfEventKind.EnterMprotect; keys = ["start", "len", "prot"]; break;
            case "syscalls:sys_enter_madvise": kind = PerfEventKind.EnterMadvise; keys = ["start", "len_in", "behavior"]; break;
            case "syscalls:sys_enter_brk": kind = PerfEventKind.EnterBrk; keys = ["brk"]; break;
            case "syscalls:sys_exit_mmap": kind = PerfEventKind.ExitMmap; keys = []; break;
            case "syscalls:sys_exit_munmap": kind = PerfEventKind.ExitMunmap; keys = []; break;
            case "syscalls:sys_exit_mprotect": kind = PerfEventKind.ExitMprotect; keys = []; break;
            case "syscalls:sys_exit_brk": kind = PerfEventKind.ExitBrk; keys = []; break;
            case "sched:sched_process_exec": kind = PerfEventKind.ProcessExec; keys = ["pid"]; break;
            default: return (false, default, null);
        }

        Span<ulong> v = stackalloc ulong[4];
        if (keys.Length == 0)
        {
            // Exits print the bare return value: "0x7f8b8f592000" or "0x0".
            if (!TryNumber(fields, out v[0]))
                return (false, default, $"{name} without a return value");
        }
        else
        {
            for (int i = 0; i < keys.Length; i++)
            {
                if (!TryField(fields, keys[i], out v[i]))
                    return (false, default, $"{name} without field '{keys[i]}'");
            }
        }
        var ev = new PerfEvent(kind, pid, tid, comm, time, v[0], v[1], v[2], v[3], lineNumber);
        return Impossible(ev) is { } why ? (false, default, why) : (true, ev, null);
    }

    /// <summary>
    /// Values no kernel reports: a user fault, mmap result or break outside the user address
    /// space, or an mmap result that is not page-aligned. Such a line is corrupt, and the
    /// importer would otherwise map garbage.
    /// </summary>
    private static string? Impossible(in PerfEvent e) => e.Kind switch
    {
        PerfEventKind.PageFault when e.A >= PerfEvent.UserEnd => $"user page fault at 0x{e.A:x}, above the user address space",
        PerfEventKind.ExitMmap when !e.IsErrorReturn && (e.A >= PerfEvent.UserEnd || (e.A & 0xFFF) != 0) =>
            $"mmap returned 0x{e.A:x}, which is neither a page-aligned user address nor an error number",
        PerfEventKind.ExitBrk when e.A >= PerfEvent.UserEnd => $"brk returned 0x{e.A:x}, above the user address space",
        _ => null,
    };

    /// <summary>Finds "key: 0x..." (syscalls) or "key=0x..." (other tracepoints) as a whole word.</summary>
    private static bool TryField(ReadOnlySpan<char> fields, string key, out ulong value)
    {
        int from = 0;
        while (from < fields.Length)
        {
            int at = fields[from..].IndexOf(key, StringComparison.Ordinal);
            if (at < 0)
                break;
            at += from;
            int after = at + key.Length;
            bool wordStart = at == 0 || fields[at - 1] is ' ' or ',';
            if (wordStart && after < fields.Length && fields[after] is ':' or '=')
            {
                ReadOnlySpan<char> tail = fields[(after + 1)..].TrimStart();
                int end = tail.IndexOfAny(' ', ',');
                return TryNumber(end < 0 ? tail : tail[..end], out value);
            }
            from = after;
        }
        value = 0;
        return false;
    }

    private static bool TryNumber(ReadOnlySpan<char> s, out ulong value)
    {
        s = s.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(s[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (s.StartsWith("-", StringComparison.Ordinal) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long neg))
        {
            value = (ulong)neg;
            return true;
        }
        return ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
    }
}
