using System.CommandLine;
using FastPT.Cli;

// One file per command under Commands/; each exposes Create() returning its Command.
var root = new RootCommand("FastPT: a batched x86-64 page-table engine with Linux uffd-wp semantics.");
foreach (var command in CommandRegistry.All())
    root.Subcommands.Add(command);
return root.Parse(args).Invoke();
