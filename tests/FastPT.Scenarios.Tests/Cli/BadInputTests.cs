namespace FastPT.Scenarios.Tests.Cli;

/// <summary>
/// Bad input through every `fastpt` command, as a process: exit code 2, exactly one error line
/// on stderr that names the command, no stack trace, nothing on stdout, and the working
/// directory exactly as it was (no output file, no half-written one, no temporary left over,
/// an existing output file untouched).
/// </summary>
[Collection("Kernel")]
public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastpt-cli-bad-").FullName;

    public BadInputTests()
    {
        var random = new Random(12);
        var garbage = new byte[3000];
        random.NextBytes(garbage);
        File.WriteAllBytes(Path.Combine(_dir, "garbage.bin"), garbage);
        File.WriteAllBytes(Path.Combine(_dir, "empty.bin"), []);
        byte[] trace = File.ReadAllBytes(Path.Combine(TestPaths.Root, "traces", "gcc-compile.nettrace"));
        File.WriteAllBytes(Path.Combine(_dir, "cut.nettrace"), trace.AsSpan(0, trace.Length / 2).ToArray());
        File.WriteAllText(Path.Combine(_dir, "keep.nettrace"), "an earlier recording that must survive a failed one");
        Directory.CreateDirectory(Path.Combine(_dir, "a-directory"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> Cases() => new()
    {
        // args ({d} is the scratch directory), the start of the error line
        { "script {d}/no-such.script", "fastpt script: cannot read script '{d}/no-such.script'" },
        { "script {d}/a-directory", "fastpt script: '{d}/a-directory' is a directory" },
        { "script {d}/garbage.bin", "error: line 1: unknown statement" },
        { "script", "fastpt script: Required argument missing for command: 'script'" },
        { "script --kernel {d}/empty.bin --nonsense", "fastpt script: Unrecognized command or argument '--nonsense'" },
        { "bench --repetitions 0", "fastpt bench: --repetitions 0: out of range; use 1..1000" },
        { "bench --repetitions 1001", "fastpt bench: --repetitions 1001: out of range" },
        { "bench --repetitions many", "fastpt bench: Cannot parse argument 'many' for option '--repetitions'" },
        { "bench --only no-such-step", "fastpt bench: --only no-such-step: matches no step; use part of one of:" },
        { "kvm-check --probes 0", "fastpt kvm-check: --probes 0: must be a positive number of probes" },
        { "kvm-check --probes -5", "fastpt kvm-check: --probes -5: must be a positive number" },
        { "kvm-check --probes 99999999999", "fastpt kvm-check: Cannot parse argument '99999999999' for option '--probes'" },
        { "kvm-check --seed x", "fastpt kvm-check: Cannot parse argument 'x' for option '--seed'" },
        { "kvm-demo --seed 1.5", "fastpt kvm-demo: Cannot parse argument '1.5' for option '--seed'" },
        { "kvm-demo extra", "fastpt kvm-demo: Unrecognized command or argument 'extra'" },
        { "record -- true", "fastpt record: Option '--output' is required" },
        { "record -o {d}/out.nettrace", "fastpt record: no command to record: put it after `--`" },
        { "record -o {d}/missing-dir/out.nettrace -- true", "fastpt record: -o {d}/missing-dir/out.nettrace: directory {d}/missing-dir does not exist" },
        { "record -o {d}/a-directory -- true", "fastpt record: -o {d}/a-directory: is a directory" },
        { "record -o /proc/fastpt-test.nettrace -- true", "fastpt record: -o /proc/fastpt-test.nettrace: cannot write in /proc" },
        { "record -o {d}/out.nettrace --pid 0 -- true", "fastpt record: --pid 0: process ids are positive numbers" },
        { "record -o {d}/out.nettrace --pid x -- true", "fastpt record: Cannot parse argument 'x' for option '--pid'" },
        { "record -o {d}/out.nettrace --from-perf-data {d}/no-such.data", "fastpt record: --from-perf-data {d}/no-such.data: no such file" },
        { "record -o {d}/out.nettrace --from-perf-data {d}/garbage.bin", "fastpt record: " },
        { "record -o {d}/keep.nettrace --from-perf-data {d}/garbage.bin", "fastpt record: " },
        { "record -o {d}/keep.nettrace -- false", "fastpt record: " },
        { "replay {d}/no-such.nettrace", "fastpt replay: {d}/no-such.nettrace: no such trace file; check the path" },
        { "replay {d}/a-directory", "fastpt replay: {d}/a-directory: is a directory" },
        { "replay {d}/garbage.bin", "fastpt replay: {d}/garbage.bin: offset 0x0: no 'Nettrace' magic" },
        { "replay {d}/empty.bin", "fastpt replay: {d}/empty.bin: 0 bytes is too short for a .nettrace file" },
        { "replay {d}/cut.nettrace", "fastpt replay: {d}/cut.nettrace: offset 0x" },
        { "replay --json {d}/cut.nettrace", "fastpt replay: {d}/cut.nettrace: offset 0x" },
        { "replay --snapshot-every -1 {d}/cut.nettrace", "fastpt replay: --snapshot-every -1: must be 0 (off) or a positive number" },
        { "replay --snapshot-every often {d}/cut.nettrace", "fastpt replay: Cannot parse argument 'often' for option '--snapshot-every'" },
        { "replay --target gpu {d}/cut.nettrace", "fastpt replay: Argument 'gpu' not recognized. Must be one of: 'engine' 'kernel'" },
        { "replay", "fastpt replay: Required argument missing for command: 'replay'" },
        { "no-such-command", "fastpt: Unrecognized command or argument 'no-such-command'" },
        { "", "fastpt: Required command was not provided" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_input_is_one_error_line_exit_2_and_changes_nothing(string args, string errorStart)
    {
        var before = Snapshot();
        string[] argv = args.Length == 0 ? [] : args.Replace("{d}", _dir, StringComparison.Ordinal).Split(' ');
        var (code, stdout, stderr) = CliProcess.Run(argv);
        AssertOneErrorLine(stderr, errorStart.Replace("{d}", _dir, StringComparison.Ordinal));
        Assert.Equal("", stdout);
        Assert.Equal(2, code);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public void A_bad_FASTPT_ISA_stops_bench_before_any_work()
    {
        var (code, stdout, stderr) = CliProcess.Run(new Dictionary<string, string> { ["FASTPT_ISA"] = "sse9" },
            "bench", "--quick", "--no-kernel", "--repetitions", "1", "--only", "translate");
        AssertOneErrorLine(stderr, "fastpt bench: ");
        Assert.Contains("FASTPT_ISA", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.Equal(2, code);
    }

    [SkippableFact]
    public void A_successful_record_leaves_only_the_output_file()
    {
        string? why = RecordProblem();
        Skip.If(why is not null, why);
        string output = Path.Combine(_dir, "keep.nettrace");
        var (code, stdout, stderr) = CliProcess.Run("record", "-o", output, "--", "true");
        Assert.True(code == 0, stderr);
        Assert.StartsWith($"wrote {output}: ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.EnumerateFiles(_dir), f => Path.GetFileName(f).StartsWith('.'));
        Assert.True(new FileInfo(output).Length > 100, "the recording replaced the old file");
    }

    /// <summary>
    /// Exactly one line, starting as given, with no trace of an exception's stack. `record`'s
    /// progress line ("running `CMD` under perf ...", printed before perf starts) is not an error line.
    /// </summary>
    internal static void AssertOneErrorLine(string stderr, string start)
    {
        string[] lines = [.. stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith("fastpt record: running `", StringComparison.Ordinal))];
        Assert.True(lines.Length == 1, $"expected one error line, got {lines.Length}:\n{stderr}");
        Assert.StartsWith(start, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled", stderr, StringComparison.Ordinal);
    }

    /// <summary>Every file under the scratch directory with its content hash.</summary>
    private SortedDictionary<string, string> Snapshot()
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string f in Directory.EnumerateFileSystemEntries(_dir, "*", SearchOption.AllDirectories))
            files[Path.GetRelativePath(_dir, f)] = File.Exists(f) ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))) : "dir";
        return files;
    }

    private static string? RecordProblem()
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("perf", "--version") { RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode == 0 ? null : "perf does not run (install linux-perf)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "perf is not installed (apt-get install linux-perf; .ci/run installs it)";
        }
    }
}
