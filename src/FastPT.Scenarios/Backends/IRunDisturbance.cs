namespace FastPT.Scenarios.Backends;

/// <summary>
/// Optional face of a backend whose run can be spoiled by something outside the script
/// (the kernel's khugepaged collapsing a thp region at a timing-dependent moment). The
/// runner discards such a run's report and runs the script again on a fresh backend.
/// </summary>
public interface IRunDisturbance
{
    /// <summary>Why the last run cannot be trusted, or null when it can.</summary>
    string? DisturbedBy();
}

/// <summary>
/// The backend's environment failed (a system call, a timeout), not the script: exit 2 with
/// the reason. Kernel-side errors name the call and errno.
/// </summary>
public sealed class ScenarioEnvironmentException(string message, Exception? inner = null) : Exception(message, inner);
