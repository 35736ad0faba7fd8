using FastPT.Traces.Perf;

namespace FastPT.Traces.Tests.Perf;

public class PerfScriptParserTests
{
    // Real lines from `perf script -F comm,pid,tid,time,event,trace --show-lost-events` on this
    // machine (python3, a .NET program's threads, a perf run with -m 1 that lost events).
    private static readonly string Excerpt = string.Join('\n',
        "                 python3  3934/3934    278.689318:  exceptions:page_fault_user: address=0x7f8b8f5b6b70 ip=0x7f8b8f5b6b70 error_code=0x14",
        "                 python3  3934/3934    278.689325:  exceptions:page_fault_user: address=0x7f8b8f5cfe06 ip=0x7f8b8f5b77ad error_code=0x6",
        "                 python3  3934/3934    278.689350:      syscalls:sys_enter_brk: brk: 0x00000000",
        "                 python3  3934/3934    278.689352:       syscalls:sys_exit_brk: 0x55866a934000",
        "                 python3  3934/3934    278.689613:     syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00002000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000",
        "                 python3  3934/3934    278.689625:      syscalls:sys_exit_mmap: 0x7f8b8f592000",
        "      .NET TP Worker  5120/5133    301.000001:  exceptions:page_fault_user: address=0x7f0000001000 ip=0x7f8b8f5a223e error_code=0x7",
        "     my worker 12/34  5120/5134    301.000002: syscalls:sys_enter_mprotect: start: 0x7f8b8f576000, len: 0x00004000, prot: 0x00000001",
        "                 bash  4141/4141    309.388851: PERF_RECORD_LOST lost 21",
        "                 python3  5013/5013    400.000393: syscalls:sys_enter_madvise: start: 0x7fe312fac000, len_in: 0x00100000, behavior: 0x00000004",
        "                 python3  5013/5013    399.938947:   sched:sched_process_exec: filename=/usr/bin/python3 pid=5013 old_pid=5013",
        "                 python3  5013/5013    399.943625: syscalls:sys_exit_mprotect: 0xfffffffffffffff4",
        "                 python3  5013/5013    399.943700:  sched:sched_switch: prev_comm=python3 prev_pid=5013");

    private static (List<PerfEvent> Events, PerfScriptParser Parser) Parse(string text)
    {
        var p = new PerfScriptParser(new StringReader(text), "test.txt");
        return (p.Read().ToList(), p);
    }

    [Fact]
    public void Reads_every_event_kind_with_its_fields()
    {
        var (events, p) = Parse(Excerpt);
        Assert.Equal(11, events.Count);
        Assert.Equal(new PerfEvent(PerfEventKind.PageFault, 3934, 3934, "python3", 278.689318, 0x7f8b8f5b6b70, 0x14, LineNumber: 1), events[0]);
        Assert.Equal(PerfEventKind.EnterMmap, events[4].Kind);
        Assert.Equal((0UL, 0x2000UL, 3UL, 0x22UL), (events[4].A, events[4].B, events[4].C, events[4].D));
        Assert.Equal(0x7f8b8f592000UL, events[5].A);
        Assert.Equal(0x100000UL, events[8].B);
        Assert.Equal(4UL, events[8].C);
        Assert.Equal(PerfEventKind.ProcessExec, events[9].Kind);
        Assert.True(events[10].IsErrorReturn);
        Assert.Equal(1, p.SkippedLines); // sched_switch is not ours
    }

    [Fact]
    public void Thread_names_with_spaces_and_digits_are_kept_whole()
    {
        var (events, _) = Parse(Excerpt);
        Assert.Equal(".NET TP Worker", events[6].Comm);
        Assert.Equal((5120, 5133), (events[6].Pid, events[6].Tid));
        Assert.Equal("my worker 12/34", events[7].Comm);
        Assert.Equal((5120, 5134), (events[7].Pid, events[7].Tid));
        Assert.Equal(PerfEventKind.EnterMprotect, events[7].Kind);
    }

    [Fact]
    public void Lost_events_are_counted_and_warned_about()
    {
        var (events, p) = Parse(Excerpt);
        Assert.Equal(21, p.LostEvents);
        Assert.DoesNotContain(events, e => e.Kind == PerfEventKind.Lost);
        Assert.Contains(p.Warnings, w => w.Contains("lost 21 events", StringComparison.Ordinal) && w.Contains("test.txt:9", StringComparison.Ordinal));
    }

    [Fact]
    public void A_truncated_last_line_is_a_warning_not_a_crash()
    {
        string text = Excerpt.TrimEnd() + "\n         python3  3934/3934    278.6899:  exceptions:page_fault_user: address=0x7f8b";
        var (events, p) = Parse(text);
        Assert.Equal(11, events.Count);
        Assert.Contains(p.Warnings, w => w.Contains("truncated", StringComparison.Ordinal) && w.Contains(":14:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("         python3  3934/3934    278.6899:  exceptions:page_fault_user: address=0x7f8b")]
    [InlineData("garbage without a header")]
    [InlineData("         python3  3934/3934    278.689352:       syscalls:sys_exit_brk: ")]
    [InlineData("         python3  3934/3934    278.6: syscalls:sys_enter_mmap: addr: 0x0, len: zz, prot: 0x3, flags: 0x22")]
    public void A_malformed_line_in_the_middle_is_an_error_naming_the_line(string bad)
    {
        string text = Excerpt.Split('\n')[0] + "\n" + bad + "\n" + Excerpt;
        var ex = Assert.Throws<PerfScriptFormatException>(() => Parse(text));
        Assert.Contains("test.txt:2:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("perf script -F", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_input_gives_no_events()
    {
        var (events, p) = Parse("");
        Assert.Empty(events);
        Assert.Equal(0, p.LostEvents);
    }

    // Fuzzing findings (docs/fuzzing.md): values no kernel reports made the importer map garbage.
    [Theory]
    [InlineData("         python3  1/1    1.0: syscalls:sys_exit_mmap: 0x7f8b8f592", "neither a page-aligned user address")]
    [InlineData("         python3  1/1    1.0: syscalls:sys_exit_mmap: 0x7f0000000040", "neither a page-aligned user address")]
    [InlineData("         python3  1/1    1.0: syscalls:sys_exit_mmap: 0xff00000000000000", "neither a page-aligned user address")]
    [InlineData("         python3  1/1    1.0: exceptions:page_fault_user: address=0xffffffff81000000 ip=0x1 error_code=0x6", "above the user address space")]
    [InlineData("         python3  1/1    1.0: syscalls:sys_exit_brk: 0x100000000000000", "above the user address space")]
    public void Impossible_kernel_values_are_an_error_naming_the_line(string bad, string why)
    {
        string text = Excerpt.Split('\n')[0] + "\n" + bad + "\n" + Excerpt;
        var ex = Assert.Throws<PerfScriptFormatException>(() => Parse(text));
        Assert.Contains("test.txt:2:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_mmap_is_still_an_error_return_not_an_impossible_value()
    {
        var (events, _) = Parse("         python3  1/1    1.0: syscalls:sys_exit_mmap: 0xfffffffffffffff4");
        Assert.True(Assert.Single(events).IsErrorReturn);
    }

    // A fuzzing finding (docs/fuzzing.md): a line of 32,000 spaces kept the backtracking regex
    // busy for minutes; the header regex is NonBacktracking now, linear in the line.
    [Fact]
    public void A_long_line_of_blanks_is_read_in_linear_time()
    {
        string text = new string(' ', 32_000) + "\n" + new string(' ', 20_000) + "1/1 \t \n" + Excerpt;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ex = Assert.Throws<PerfScriptFormatException>(() => Parse(text));
        Assert.Contains("test.txt:1:", ex.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }
}
