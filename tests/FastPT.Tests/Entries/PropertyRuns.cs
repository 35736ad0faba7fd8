using System.Globalization;

namespace FastPT.Tests.Entries;

/// <summary>
/// Iteration counts and seeds for the core property tests: a small CI default, overridable
/// with FASTPT_PROP_ITER (count) and FASTPT_PROP_SEED (a CsCheck seed printed by a failure).
/// </summary>
internal static class PropertyRuns
{
    public static long Iter(long ciDefault)
    {
        string? s = Environment.GetEnvironmentVariable("FASTPT_PROP_ITER");
        return s is not null && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0 ? n : ciDefault;
    }

    public static string? Seed => Environment.GetEnvironmentVariable("FASTPT_PROP_SEED") is { Length: > 0 } s ? s : null;
}
