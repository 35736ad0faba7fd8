using FastPT.Results.Compare;
using FastPT.Results.Model;
using Perfolizer.Mathematics.Cpd;

namespace FastPT.Results.History;

/// <summary>A figure that moved between two neighbouring history entries.</summary>
/// <param name="Before">Index of the last entry before the move.</param>
/// <param name="After">Index of the first entry after it: the move came in one of the commits (Before, After].</param>
/// <param name="Comparison">The segment before against the segment after (shift, CI, verdict).</param>
public sealed record ChangePoint(string Op, string Figure, int Before, int After, string? BeforeCommit, string? AfterCommit, FigureComparison Comparison)
{
    public Verdict Verdict => Comparison.Verdict;
}

/// <summary>
/// Change points in one machine's history. Each operation's figure (time, and each paired
/// ratio) is laid out as all its samples in history order; Perfolizer's ED-PELT splits that
/// series where its distribution changes; each split is moved to the nearest boundary between
/// entries of different commits (runs of one commit share its segment), and kept only when
/// the segment before and the segment after differ by the compare rules (threshold, noise
/// floor, Mann–Whitney at alpha). So a change point is both a change in distribution and a
/// change that matters.
/// </summary>
public static class ChangePoints
{
    public static IReadOnlyList<ChangePoint> Find(IReadOnlyList<ResultSet> history, ComparisonOptions? options = null)
    {
        var o = options ?? new ComparisonOptions();
        var found = new List<ChangePoint>();
        foreach (string op in history.SelectMany(h => h.Results.Select(r => r.Op)).Distinct())
        {
            foreach (string figure in new[] { Comparer.TimeFigure, "vs bare", "vs kernel" })
            {
                var points = new List<(int Entry, IReadOnlyList<double> Samples, string Unit)>();
                for (int i = 0; i < history.Count; i++)
                {
                    var r = history[i].Find(op);
                    var samples = r == null ? null : figure == Comparer.TimeFigure ? r.Samples : r.Ratios?.GetValueOrDefault(figure[3..]);
                    if (samples != null)
                        points.Add((i, samples, figure == Comparer.TimeFigure ? r!.Unit : "ratio"));
                }
                found.AddRange(FindInSeries(history, op, figure, points, o));
            }
        }
        return found;
    }

    private static IEnumerable<ChangePoint> FindInSeries(IReadOnlyList<ResultSet> history, string op, string figure,
        List<(int Entry, IReadOnlyList<double> Samples, string Unit)> points, ComparisonOptions o)
    {
        if (points.Count < 2)
            yield break;
        double[] data = [.. points.SelectMany(p => p.Samples)];
        // ends[k]: index in data of the last sample of point k.
        int[] ends = new int[points.Count];
        for (int k = 0, sum = 0; k < points.Count; k++)
            ends[k] = (sum += points[k].Samples.Count) - 1;
        int minDistance = Math.Max(1, points.Min(p => p.Samples.Count));
        if (2 * minDistance > data.Length)
            yield break;
        // Only a boundary where the commit changes can hold a change: runs of one commit (a
        // commit measured several times) differ by the machine's drift alone, and a move "in
        // c..c" would name no commit. A split inside such a group goes to its nearest boundary.
        int[] boundaries = [.. Enumerable.Range(0, points.Count - 1)
            .Where(k => history[points[k].Entry].Environment.Commit is not { } c || c != history[points[k + 1].Entry].Environment.Commit)];
        if (boundaries.Length == 0)
            yield break;
        var splits = EdPeltChangePointDetector.Instance.GetChangePointIndexes(data, minDistance)
            .Select(cp => boundaries.MinBy(k => Math.Abs(ends[k] - cp)))
            .Distinct()
            .Order()
            .ToList();
        for (int s = 0; s < splits.Count; s++)
        {
            int from = s == 0 ? 0 : splits[s - 1] + 1, at = splits[s], to = s + 1 < splits.Count ? splits[s + 1] : points.Count - 1;
            var before = points.Skip(from).Take(at - from + 1).SelectMany(p => p.Samples).ToList();
            var after = points.Skip(at + 1).Take(to - at).SelectMany(p => p.Samples).ToList();
            double floor = figure == Comparer.TimeFigure ? o.NoiseFloor : 0;
            var c = Comparer.CompareSamples(figure, points[at].Unit, before, after, o, floor);
            if (c.Verdict is Verdict.Slower or Verdict.Faster)
            {
                int b = points[at].Entry, a = points[at + 1].Entry;
                yield return new ChangePoint(op, figure, b, a, history[b].Environment.Commit, history[a].Environment.Commit, c);
            }
        }
    }
}
