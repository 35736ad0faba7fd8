using System.CommandLine;
using FastPT.Kvm.Oracle;
using FastPT.Kvm.Vmm;

namespace FastPT.Cli.Commands;

/// <summary>`fastpt kvm-check [--guest-built] [--seed S] [--probes N]`: FastPT's Translate against a KVM vCPU.</summary>
internal static class KvmCheckCommand
{
    public static Command Create()
    {
        var seed = new Option<int>("--seed") { Description = "Random seed (same seed, same address spaces and probes).", DefaultValueFactory = _ => 1 };
        var probes = new Option<int>("--probes") { Description = "How many probes to run.", DefaultValueFactory = _ => 100_000 };
        var verbose = new Option<bool>("--verbose") { Description = "Print every address space and batch." };
        var guestBuilt = new Option<bool>("--guest-built")
        {
            Description = "The guest writes random tables into its own RAM (two regions, a hole between) and loads CR3; FastPT attaches to that CR3.",
        };
        var command = new Command("kvm-check",
            "Run random probes on a KVM vCPU walking FastPT's tables (or, with --guest-built, tables the guest wrote) and compare with FastPT's Translate; " +
            "prints 'N probes, M mismatches' last; exit 0 iff M is 0, 2 if KVM is unusable or the input is bad.");
        command.Options.Add(seed);
        command.Options.Add(probes);
        command.Options.Add(verbose);
        command.Options.Add(guestBuilt);
        command.SetAction(parseResult => CliErrors.Run("kvm-check", () =>
        {
            int n = parseResult.GetValue(probes);
            if (n <= 0)
                throw new CliInputException($"--probes {n}: must be a positive number of probes");
            if (KvmSystem.UnavailableReason() is { } why)
                return CliErrors.Report("kvm-check", why, ExitCodes.BadInput);
            var options = new DifferentialOptions(parseResult.GetValue(seed), n);
            // A KvmException (KVM opened but refused a VM or vCPU setting) is an environment problem, not a mismatch: exit 2.
            Action<string>? log = parseResult.GetValue(verbose) ? Console.WriteLine : null;
            DifferentialReport report = parseResult.GetValue(guestBuilt) ? GuestBuiltCheck.Run(options, log) : DifferentialCheck.Run(options, log);
            Console.WriteLine($"guest CPU: {report.Features}");
            Console.WriteLine(report.Summary);
            if (report.MismatchCount > 0)
            {
                Console.WriteLine($"first {report.Mismatches.Count} of {report.MismatchCount} mismatches (expected = FastPT, actual = KVM):");
                foreach (var m in report.Mismatches)
                    Console.WriteLine("  " + m);
            }
            Console.WriteLine(report.Verdict);
            return report.MismatchCount == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }
}
