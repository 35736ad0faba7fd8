namespace FastPT.Results.Statistics;

/// <summary>
/// A distribution-free confidence interval of a median: the j-th smallest and largest sample,
/// j from the binomial distribution (each sample falls below the median with probability ½).
/// </summary>
public readonly record struct MedianInterval(double Median, double Low, double High, double Level)
{
    public static MedianInterval Of(IReadOnlyList<double> samples, double level = 0.95)
    {
        double[] s = [.. samples];
        Array.Sort(s);
        int n = s.Length;
        double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        // [x(j), x(n+1-j)] covers the median with probability 1 - 2 P(B <= j-1), B ~ Binomial(n, 1/2).
        double half = (1 - level) / 2;
        int j = 1;
        while (j + 1 <= (n + 1) / 2 && BinomialCdf(n, j) <= half)
            j++;
        return new MedianInterval(median, s[j - 1], s[n - j], 1 - 2 * BinomialCdf(n, j - 1));
    }

    /// <summary>P(B &lt;= k) for B ~ Binomial(n, 1/2).</summary>
    private static double BinomialCdf(int n, int k)
    {
        double sum = 0, term = Math.Pow(0.5, n);
        for (int i = 0; i <= k && i <= n; i++)
        {
            sum += term;
            term = term * (n - i) / (i + 1);
        }
        return sum;
    }
}
