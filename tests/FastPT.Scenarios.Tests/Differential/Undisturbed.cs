using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Running;

namespace FastPT.Scenarios.Tests.Differential;

/// <summary>A run on a fresh backend, repeated while the kernel side calls it disturbed (khugepaged), as <see cref="ScriptRunner.Run"/> does.</summary>
internal static class Undisturbed
{
    public static T Run<T>(Func<IScenarioBackend> create, Func<IScenarioBackend, T> run)
    {
        for (int attempt = 1; ; attempt++)
        {
            using var backend = create();
            var result = run(backend);
            if ((backend as IRunDisturbance)?.DisturbedBy() is null || attempt == ScriptRunner.MaxAttempts)
                return result;
        }
    }
}
