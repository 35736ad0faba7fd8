using System.CommandLine;
using FastPT.Cli;

// One file per command under Commands/; each exposes Create() returning its Command.
var root = new RootCommand("FastPT: a batched x86-64 page-table engine with Linux uffd-wp semantics. " +
    "Exit codes: 0 ok, 1 a check failed or an internal error, 2 bad input, usage or environment.");
foreach (var command in CommandRegistry.All())
    root.Subcommands.Add(command);
ParseResult parse = root.Parse(args);
// A command line that does not parse is bad input (exit 2) like any other, in one line.
return parse.Errors.Count > 0 ? CliErrors.Usage(parse) : parse.Invoke();
