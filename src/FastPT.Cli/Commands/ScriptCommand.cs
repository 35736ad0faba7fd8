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
        command.SetAction(parseResult =>
        {
            var path = parseResult.GetValue(file)!;
            bool onKernel = parseResult.GetValue(kernel);
            string text;
            try
            {
                text = File.ReadAllText(path.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: cannot read script '{path}': {e.Message}");
                return 2;
            }
            try
            {
                return ScriptRunner.Run(text, () => BackendFactory.Create(onKernel), Console.Out, Console.Error);
            }
            catch (NotSupportedException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
            catch (Exception e)
            {
                // A bug, not bad input: say so instead of dying with an unhandled exception.
                Console.Error.WriteLine($"error: internal failure running '{path}': {e}");
                return 1;
            }
        });
        return command;
    }
}
