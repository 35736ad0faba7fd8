using FastPT.Linux;
using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Language;

namespace FastPT.Scenarios.Running;

/// <summary>
/// Executes a validated script on a backend and writes the report in the spec's format.
/// Exit codes: 0 ok, 2 bad input (the report of every statement before it is printed) or an
/// environment failure.
/// </summary>
public static class ScriptRunner
{
    /// <summary>How often a disturbed run (see <see cref="IRunDisturbance"/>) is repeated before giving up.</summary>
    public const int MaxAttempts = 5;

    /// <summary>Parses and runs <paramref name="text"/>; a disturbed run is repeated on a fresh backend.</summary>
    public static int Run(string text, Func<IScenarioBackend> createBackend, TextWriter report, TextWriter error)
    {
        var script = Script.Parse(text);
        string? disturbance = null;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var reportBuffer = new StringWriter();
            var errorBuffer = new StringWriter();
            int code;
            using (var backend = createBackend())
            {
                code = Execute(script, backend, reportBuffer, errorBuffer);
                disturbance = (backend as IRunDisturbance)?.DisturbedBy();
            }
            if (disturbance is null)
            {
                report.Write(reportBuffer.ToString());
                error.Write(errorBuffer.ToString());
                return code;
            }
        }
        error.WriteLine($"error: every one of {MaxAttempts} runs was disturbed: {disturbance}");
        return 2;
    }

    /// <summary>Runs the statements of <paramref name="script"/> on an unopened backend.</summary>
    public static int Execute(Script script, IScenarioBackend backend, TextWriter report, TextWriter error)
    {
        int line = 0;
        try
        {
            backend.Open(script.Features);
            foreach (var statement in script.Statements)
            {
                line = statement.Line;
                ExecuteStatement(statement, backend, report);
            }
        }
        catch (Exception e) when (e is ScenarioEnvironmentException or SyscallException or UserfaultfdServeException)
        {
            error.WriteLine(line == 0 ? $"error: {e.Message}" : $"error: line {line}: {e.Message}");
            return 2;
        }
        if (script.Error is not null)
        {
            error.WriteLine(script.Error.ToString());
            return 2;
        }
        return 0;
    }

    private static void ExecuteStatement(Statement statement, IScenarioBackend backend, TextWriter report)
    {
        switch (statement)
        {
            case RegionStatement r:
                backend.CreateRegion(r.ToSpec());
                break;
            case AccessStatement a:
                for (long page = a.Range.First; page <= a.Range.Last; page++)
                {
                    var outcome = backend.Access(a.Range.Region, page, a.Write);
                    if (outcome == AccessOutcome.WpFault)
                        report.WriteLine($"fault write {a.Range.Region}:{page} wp");
                    else if (outcome == AccessOutcome.Segv)
                        report.WriteLine($"fault {(a.Write ? "write" : "read")} {a.Range.Region}:{page} segv");
                }
                break;
            case ZapStatement z:
                backend.Zap(z.Range.Region, z.Range.First, z.Range.Count);
                break;
            case WriteProtectStatement w:
                backend.WriteProtect(w.Range.Region, w.Range.First, w.Range.Count, w.Protect);
                break;
            case ProtectStatement p:
                backend.Protect(p.Range.Region, p.Range.First, p.Range.Count, p.Protection);
                break;
            case UnregisterStatement u:
                backend.Unregister(u.Region);
                break;
            case PagemapStatement m:
                report.WriteLine(m.Echo);
                WritePagemap(m.Range, backend, report);
                break;
            case ScanStatement s:
                report.WriteLine(s.Echo);
                foreach (var run in backend.Scan(s.Range.Region, s.Range.First, s.Range.Count, s.Request).Runs)
                    report.WriteLine($"  {s.Range.Region} {run.First}-{run.Last} {CategoryNames.Format(run.Categories)}");
                break;
            default:
                throw new InvalidOperationException($"unhandled statement {statement.GetType().Name}");
        }
    }

    private static void WritePagemap(PageRange range, IScenarioBackend backend, TextWriter report)
    {
        var entries = new ulong[range.Count];
        backend.Pagemap(range.Region, range.First, range.Count, entries);
        long runStart = 0;
        for (long i = 1; i <= entries.Length; i++)
        {
            if (i == entries.Length || PagemapState.Of(entries[i]) != PagemapState.Of(entries[runStart]))
            {
                report.WriteLine($"  {range.Region} {range.First + runStart}-{range.First + i - 1} {PagemapState.Format(entries[runStart])}");
                runStart = i;
            }
        }
    }
}
