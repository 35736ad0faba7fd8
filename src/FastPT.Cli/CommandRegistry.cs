using System.CommandLine;

namespace FastPT.Cli;

/// <summary>The list of `fastpt` subcommands, in the order `--help` shows them.</summary>
internal static class CommandRegistry
{
    public static IEnumerable<Command> All()
    {
        yield return Commands.ScriptCommand.Create();
        yield return Commands.BenchCommand.Create();
        yield return Commands.Results.CompareCommand.Create();
        yield return Commands.Results.HistoryCommand.Create();
        yield return Commands.Results.ReportCommand.Create();
        yield return Commands.Results.ExportCommand.Create();
        yield return Commands.KvmCheckCommand.Create();
        yield return Commands.KvmDemoCommand.Create();
        yield return Commands.RecordCommand.Create();
        yield return Commands.ReplayCommand.Create();
    }
}
