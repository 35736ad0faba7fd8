using System.CommandLine;
using FastPT.Kvm.Vmm;
using FastPT.Linux;
using FastPT.Traces.Nettrace;
using FastPT.Traces.Perf;
using FastPT.Traces.Replay;

namespace FastPT.Cli;

/// <summary>
/// The one place that turns a failure into what the user sees: a single stderr line
/// `fastpt COMMAND: message` and an exit code from <see cref="ExitCodes"/>. Known bad-input
/// and environment exceptions give <see cref="ExitCodes.BadInput"/>; anything else is a bug and
/// gives <see cref="ExitCodes.Failed"/> with a one-line "internal error" (the stack trace only
/// with FASTPT_DEBUG=1). Commands wrap their action in <see cref="Run"/>.
/// </summary>
internal static class CliErrors
{
    /// <summary>Runs a command's action, mapping exceptions to an error line and exit code.</summary>
    public static int Run(string command, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsBadInput(e))
        {
            return Report(command, Describe(e), ExitCodes.BadInput);
        }
        catch (Exception e)
        {
            if (Environment.GetEnvironmentVariable("FASTPT_DEBUG") == "1")
                Console.Error.WriteLine(e);
            return Report(command, $"internal error ({e.GetType().Name}): {Describe(e)}; this is a bug, please report it with the command line (FASTPT_DEBUG=1 prints the stack trace)", ExitCodes.Failed);
        }
    }

    /// <summary>Prints <c>fastpt COMMAND: message</c> (flattened to one line) and returns <paramref name="code"/>.</summary>
    public static int Report(string command, string message, int code)
    {
        Console.Error.WriteLine($"fastpt {command}: {OneLine(message)}");
        return code;
    }

    /// <summary>
    /// A command line System.CommandLine could not parse (unknown option, missing or malformed
    /// value): its first error, where, and the help to read.
    /// </summary>
    public static int Usage(ParseResult parse)
    {
        string command = parse.CommandResult.Command is RootCommand ? "" : parse.CommandResult.Command.Name;
        string help = command.Length == 0 ? "fastpt --help" : $"fastpt {command} --help";
        string label = command.Length == 0 ? "fastpt" : $"fastpt {command}";
        // Every error, most specific first: "unknown command 'x'" says more than "required command missing".
        var errors = parse.Errors.Select(e => OneLine(e.Message).TrimEnd('.')).Distinct().OrderBy(m => m.StartsWith("Required command", StringComparison.Ordinal));
        Console.Error.WriteLine($"{label}: {string.Join("; ", errors)} (see `{help}`)");
        return ExitCodes.BadInput;
    }

    private static bool IsBadInput(Exception e) => e switch
    {
        CliInputException or TraceFormatException or PerfScriptFormatException or RecordException or ReplayException => true,
        FastPT.Results.Model.ResultsFormatException => true, // a results or history file that is not what it should be
        IOException or UnauthorizedAccessException => true, // missing, unreadable or unwritable files
        KvmException or NotSupportedException => true,      // an environment that cannot run the command
        SyscallException or UserfaultfdServeException => true, // the live kernel refused (replay --target kernel, script --kernel)
        TypeInitializationException { InnerException: InvalidOperationException } => true, // a bad FASTPT_ISA
        _ => false,
    };

    private static string Describe(Exception e) => e switch
    {
        TypeInitializationException { InnerException: { } inner } => inner.Message,
        KvmException => $"KVM failed: {e.Message}",
        _ => e.Message,
    };

    private static string OneLine(string s) =>
        string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
