using Perfolizer.Mathematics.Common;
using Perfolizer.Mathematics.SignificanceTesting.MannWhitney;
using Pragmastat;

namespace FastPT.Results.Statistics;

/// <summary>
/// The Hodges–Lehmann shift between two samples (the median of every difference new − base)
/// with its distribution-free confidence interval: the k-th smallest and largest difference,
/// k from the Mann–Whitney U distribution (Bauer 1972), so the interval and the U test agree.
/// </summary>
/// <param name="Level">The interval's real coverage (at least the level asked for, unless the samples are too small for it).</param>
public readonly record struct ShiftEstimate(double Shift, double Low, double High, double Level)
{
    /// <summary>Estimates the shift of <paramref name="after"/> from <paramref name="before"/> at the requested two-sided level.</summary>
    public static ShiftEstimate Of(IReadOnlyList<double> before, IReadOnlyList<double> after, double level = 0.95)
    {
        int n = before.Count, m = after.Count;
        if (n == 0 || m == 0)
            throw new ArgumentException("both samples need at least one value");
        double shift = Toolkit.Shift(new Sample([.. after]), new Sample([.. before])).NominalValue;
        var diffs = new double[n * m];
        int d = 0;
        foreach (double y in after)
            foreach (double x in before)
                diffs[d++] = y - x;
        Array.Sort(diffs);

        // Largest k with P(U <= k-1) <= alpha/2 (Perfolizer's Cdf(n, m, k) is P(U < k)).
        IMannWhitneyCdf cdf = n + m <= BinomialCoefficientHelper.MaxAcceptableN
            ? MannWhitneyLoefflerExactCdf.Instance
            : MannWhitneyEdgeworthApproxCdf.Instance;
        double half = (1 - level) / 2;
        int lo = 0, hi = n * m / 2;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (cdf.Cdf(n, m, mid) <= half)
                lo = mid;
            else
                hi = mid - 1;
        }
        // [d(k), d(nm+1-k)] covers with probability 1 - 2 P(U <= k-1). k = 0 means even the
        // whole range covers less than asked: report the whole range with the level it has.
        int k = Math.Max(1, lo);
        double covered = 1 - 2 * cdf.Cdf(n, m, k);
        return new ShiftEstimate(shift, diffs[k - 1], diffs[n * m - k], covered);
    }
}
