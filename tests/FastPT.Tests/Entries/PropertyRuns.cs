using System.Globalization;

namespace FastPT.Tests.Entries;

/// <summary>
/// Iteration counts and seeds for the core property tests: a small CI default, overridable
/// with FASTPT_PROP_ITER (count) and FASTPT_PROP_SEED (a CsCheck seed printed by a failure),
/// or scaled with FASTPT_TEST_SCALE (mutation testing runs the suite once per mutant).
/// </summary>
internal static class PropertyRuns
{
    public static long Iter(long ciDefault)
    {
        string? s = Environment.GetEnvironmentVariable("FASTPT_PROP_ITER");
        return s is not null && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0 ? n : Scaled(ciDefault);
    }

    /// <summary>FASTPT_TEST_SCALE (0 &lt; scale &lt;= 1, default 1) times a default count, at least one.</summary>
    public static int Scaled(long ciDefault)
    {
        string? s = Environment.GetEnvironmentVariable("FASTPT_TEST_SCALE");
        double scale = s is not null && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x > 0 && x <= 1 ? x : 1;
        return (int)Math.Max(1, Math.Ceiling(ciDefault * scale));
    }

    public static string? Seed => Environment.GetEnvironmentVariable("FASTPT_PROP_SEED") is { Length: > 0 } s ? s : null;
}
