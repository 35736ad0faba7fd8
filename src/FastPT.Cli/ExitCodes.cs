namespace FastPT.Cli;

/// <summary>
/// The exit codes every `fastpt` command uses (README, "CLI"): scripts and CI can tell a bad
/// command line or input apart from a check that ran and failed.
/// </summary>
internal static class ExitCodes
{
    /// <summary>The command ran and everything it checked held.</summary>
    public const int Ok = 0;

    /// <summary>The command ran and found a failure (mismatches, a misbehaving guest, a failed measurement), or hit an internal error (a bug).</summary>
    public const int Failed = 1;

    /// <summary>Bad input or usage: options, arguments, input files, output paths, or an environment that cannot run the command (no KVM, no perf).</summary>
    public const int BadInput = 2;
}
