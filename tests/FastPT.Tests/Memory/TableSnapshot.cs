using FastPT.Entries;
using FastPT.Paging;

namespace FastPT.Tests.Memory;

/// <summary>Test helper: a deep copy of every table reachable from an address space's root.</summary>
internal static unsafe class TableSnapshot
{
    /// <summary>Table physical address -> its 512 entries, for every table linked from the root.</summary>
    public static SortedDictionary<ulong, ulong[]> Take(AddressSpace space)
    {
        var tables = new SortedDictionary<ulong, ulong[]>();
        Visit(space, space.Root, space.Levels, tables);
        return tables;
    }

    private static void Visit(AddressSpace space, ulong pa, int level, SortedDictionary<ulong, ulong[]> tables)
    {
        ulong[] copy = new ReadOnlySpan<ulong>(space.Table(pa), 512).ToArray();
        tables.Add(pa, copy);
        if (level == 1)
            return;
        foreach (ulong e in copy)
            if ((e & Pte.Present) != 0 && !AddressSpace.IsLeaf(e, level))
                Visit(space, e & Pte.PfnMask, level - 1, tables);
    }

    public static void AssertEqual(SortedDictionary<ulong, ulong[]> expected, SortedDictionary<ulong, ulong[]> actual)
    {
        Xunit.Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (pa, entries) in expected)
        {
            ulong[] now = actual[pa];
            for (int i = 0; i < 512; i++)
                if (entries[i] != now[i])
                    Xunit.Assert.Fail($"table 0x{pa:X} entry {i}: was 0x{entries[i]:X}, now 0x{now[i]:X}");
        }
    }
}
