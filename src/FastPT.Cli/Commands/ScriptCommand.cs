using System.CommandLine;
using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Running;

namespace FastPT.Cli.Commands;

/// <summary>`fastpt script [--kernel] FILE`: runs a scenario script and prints its report.</summary>
internal static class ScriptCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The scenario script (see docs/scenarios.md)." };
        var kernel = new Option<bool>("--kernel") { Description = "Run on the live Linux kernel instead of the FastPT engine." };
        var command = new Command("script", "Run a scenario script on the engine or the live kernel; exit 0 ok, 2 bad input or environment problem.");
        command.Arguments.Add(file);
        command.Options.Add(kernel);
        command.SetAction(parseResult => CliErrors.Run("script", () =>
        {
            var path = parseResult.GetValue(file)!;
            bool onKernel = parseResult.GetValue(kernel);
            if (Directory.Exists(path.FullName))
                throw new CliInputException($"'{path}' is a directory; give a scenario script file (see docs/scenarios.md)");
            string text;
            try
            {
                text = File.ReadAllText(path.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliInputException($"cannot read script '{path}': {e.Message}");
            }
            // A bad script is reported by the runner itself: the report up to the bad line on
            // stdout, then "error: line N: ..." on stderr, exit 2 (docs/scenarios.md).
            return ScriptRunner.Run(text, () => BackendFactory.Create(onKernel), Console.Out, Console.Error);
        }));
        return command;
    }
}
