namespace FastPT.Traces.Replay;

/// <summary>What a replay did. Seconds counts time spent inside the targets only (not reading the file).</summary>
public sealed record ReplayResult(
    string Target,
    long Operations,
    double Seconds,
    long PagesTouched,
    long TablesInUse,
    ulong Digest,
    int Spaces,
    long WpFaults,
    long Segvs,
    long Snapshots,
    long SnapshotCopies,
    IReadOnlyDictionary<string, long> OperationsByKind)
{
    public double OperationsPerSecond => Seconds > 0 ? Operations / Seconds : 0;
    public string DigestHex => Digest.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
