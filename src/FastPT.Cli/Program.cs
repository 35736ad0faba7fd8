using System.CommandLine;
using FastPT.Cli;

// One file per command under Commands/; each exposes Create() returning its Command.
var root = new RootCommand("FastPT: a batched x86-64 page-table engine with Linux uffd-wp semantics.");
foreach (var command in CommandRegistry.All())
    root.Subcommands.Add(command);
var parsed = root.Parse(args);
// compare/history/report/export promise exit 2 for bad input (1 means a regression there).
if (parsed.Errors.Count > 0 && FastPT.Cli.Commands.Results.ResultsCli.Owns(parsed.CommandResult.Command))
{
    foreach (var error in parsed.Errors)
        Console.Error.WriteLine($"fastpt: {error.Message}");
    return FastPT.Cli.Commands.Results.ResultsCli.BadInput;
}
return parsed.Invoke();
