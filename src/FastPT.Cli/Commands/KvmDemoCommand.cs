using System.CommandLine;
using FastPT.Kvm.Scenarios;
using FastPT.Kvm.Vmm;

namespace FastPT.Cli.Commands;

/// <summary>`fastpt kvm-demo`: the write-protect round trip and the concurrent dirty harvest, narrated.</summary>
internal static class KvmDemoCommand
{
    public static Command Create()
    {
        var seed = new Option<int>("--seed") { Description = "Random seed for the harvest rounds.", DefaultValueFactory = _ => 1 };
        var command = new Command("kvm-demo",
            "Show uffd-wp inside a KVM guest (protect, fault to the VMM, resolve, retry) and dirty harvest beside a running vCPU; exit 0 if both behave, 1 if not, 2 if KVM is unusable.");
        command.Options.Add(seed);
        command.SetAction(parseResult => CliErrors.Run("kvm-demo", () =>
        {
            if (KvmSystem.UnavailableReason() is { } why)
                return CliErrors.Report("kvm-demo", why, ExitCodes.BadInput);
            Console.WriteLine("== write-protect inside a guest ==");
            var wp = WriteProtectScenario.Run(log: Console.WriteLine);
            bool wpOk = wp.Messages.Count == wp.Final.Count && wp.Final.All(f => f.Ok) && wp.Messages.All(m => m.Predicted == m.Message.ErrorCode);
            Console.WriteLine(wpOk ? "write-protect: OK" : "write-protect: FAILED");
            Console.WriteLine();

            int s = parseResult.GetValue(seed);
            Console.WriteLine("== dirty harvest beside a running vCPU (lockstep rounds) ==");
            var lockstep = DirtyHarvestScenario.Run(s, lockstep: true, log: Console.WriteLine);
            bool lockOk = !lockstep.GuestTimedOut && lockstep.RoundDifferences().Count == 0 && lockstep.WrittenUnion.SetEquals(lockstep.HarvestedUnion);
            Console.WriteLine();
            Console.WriteLine("== dirty harvest beside a running vCPU (free-running) ==");
            var free = DirtyHarvestScenario.Run(s + 1, rounds: 64, lockstep: false);
            Console.WriteLine(free.Summary);
            bool freeOk = free.WrittenUnion.SetEquals(free.HarvestedUnion);
            Console.WriteLine(lockOk && freeOk ? "dirty harvest: OK" : "dirty harvest: FAILED");
            return wpOk && lockOk && freeOk ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }
}
