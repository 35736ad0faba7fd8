using System.Globalization;

namespace FastPT.Traces.Replay;

/// <summary>
/// What one replay did. Seconds counts time spent applying the operations only (not reading the
/// file, not the digests). TablesInUse and Digest are the engine's (its own page tables); the
/// kernel target has none. PagemapDigest fingerprints every touched page's pagemap state, the
/// same for both targets when they end in the same state.
/// </summary>
public sealed record ReplayResult(
    string Target,
    long Operations,
    double Seconds,
    long PagesTouched,
    long? TablesInUse,
    ulong? Digest,
    ulong PagemapDigest,
    int Spaces,
    long WpFaults,
    long Segvs,
    long Snapshots,
    long SnapshotCopies,
    IReadOnlyDictionary<string, long> OperationsByKind)
{
    public double OperationsPerSecond => Seconds > 0 ? Operations / Seconds : 0;
    public string? DigestHex => Digest?.ToString("x16", CultureInfo.InvariantCulture);
    public string PagemapDigestHex => PagemapDigest.ToString("x16", CultureInfo.InvariantCulture);
}
