using FastPT.Uffd;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// The gap buffer against a plain list: random inserts, removals and end moves at random places
/// (the gap wanders both ways and grows), every index and every search compared after each edit.
/// </summary>
public class VmaListTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Matches_a_plain_sorted_list_through_random_edits(int seed)
    {
        var rng = new Random(seed);
        var list = new VmaList();
        var reference = new List<Vma>();
        for (int step = 0; step < 3000; step++)
        {
            int op = rng.Next(10);
            if (op < 6 || reference.Count == 0) // the list grows to ~900: far and near gap moves both
            {
                // Insert a one-unit VMA into a free unit between neighbours (units of 16, ends distinct).
                int i = rng.Next(reference.Count + 1);
                ulong lo = i == 0 ? 0 : reference[i - 1].End;
                ulong hi = i == reference.Count ? lo + 1_000_000_000 : reference[i].Start;
                if (hi - lo < 2)
                    continue;
                ulong start = lo + (ulong)rng.NextInt64(0, (long)(hi - lo - 1));
                var v = new Vma { Start = start, End = start + 1 };
                list.Insert(i, v);
                reference.Insert(i, v);
            }
            else if (op < 8)
            {
                int i = rng.Next(reference.Count);
                int n = rng.Next(1, Math.Min(2, reference.Count - i) + 1);
                list.RemoveRange(i, n);
                reference.RemoveRange(i, n);
            }
            else
            {
                // Grow a VMA's end into the space before its neighbour.
                int i = rng.Next(reference.Count);
                ulong limit = i + 1 < reference.Count ? reference[i + 1].Start : reference[i].End + 100;
                ulong end = reference[i].End + (ulong)rng.NextInt64(0, (long)(limit - reference[i].End) + 1);
                list.SetEnd(i, end);
                Assert.Equal(end, reference[i].End); // the same object
            }
            Assert.Equal(reference.Count, list.Count);
            for (int i = 0; i < reference.Count; i++)
                Assert.Same(reference[i], list[i]);
            for (int probe = 0; probe < 8; probe++)
            {
                ulong va = (ulong)rng.NextInt64(0, (long)(reference.Count == 0 ? 10 : reference[^1].End + 10));
                int expected = reference.FindIndex(v => v.End > va);
                Assert.Equal(expected < 0 ? reference.Count : expected, list.FirstEndingAfter(va));
            }
        }
    }

    [Fact]
    public void Refuses_indices_outside_the_list()
    {
        var list = new VmaList();
        list.Insert(0, new Vma { Start = 0, End = 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => list[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => list.Insert(3, new Vma()));
        Assert.Throws<ArgumentOutOfRangeException>(() => list.RemoveRange(0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => list.RemoveRange(2, 0));
        list.RemoveRange(1, 0); // an empty range at the end, as List<T> allows
        Assert.Equal(1, list.Count);
        Assert.Equal(1UL, list[0].End);
    }
}
