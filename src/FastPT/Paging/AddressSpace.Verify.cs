using FastPT.Entries;

namespace FastPT.Paging;

public sealed unsafe partial class AddressSpace
{
    private const int MaxProblems = 100;

    /// <summary>
    /// Checks the structure of the tables, for tests and debug builds (it reads every table):
    /// every table is reachable from the root exactly once (no table linked twice, no cycle),
    /// every link points into the source's table memory, every entry is valid for its level
    /// (no PS above level 3, no reserved bits in a huge leaf, nothing but empty or a table link
    /// at levels 4 and 5), and the tables reachable are exactly the source's tables in use (none
    /// leaked by a failed operation, none freed while still linked). Never throws for bad
    /// tables, guest-written ones included: it returns every problem found (the first
    /// <c>100</c>); call <see cref="SpaceVerification.ThrowIfInvalid"/> to fail loudly.
    /// </summary>
    /// <param name="sourceIsShared">Other address spaces take tables from the same source: skip the count comparison.</param>
    public SpaceVerification Verify(bool sourceIsShared = false)
    {
        var problems = new List<string>();
        var reached = new HashSet<ulong> { Root };
        if (!_tables.ContainsTable(Root))
            problems.Add($"the root 0x{Root:X} is not a table of the source");
        else
            VerifyTable(Root, Levels, 0, reached, problems);
        long inUse = _tables.TablesInUse;
        if (!sourceIsShared && reached.Count != inUse && problems.Count < MaxProblems)
            problems.Add(reached.Count < inUse
                ? $"{reached.Count} tables are reachable but the source has {inUse} in use: {inUse - reached.Count} leaked (allocated, never linked or unlinked without being freed)"
                : $"{reached.Count} tables are reachable but the source has only {inUse} in use: a linked table was freed");
        return new SpaceVerification(problems, reached.Count, inUse);
    }

    private void VerifyTable(ulong tablePa, int level, ulong vaBase, HashSet<ulong> reached, List<string> problems)
    {
        ulong* t = Table(tablePa);
        int shift = Shift(level);
        for (int i = 0; i < 512 && problems.Count < MaxProblems; i++)
        {
            ulong e = t[i];
            if (LinuxPte.IsNone(e))
                continue;
            ulong va = Canonical(vaBase | ((ulong)i << shift));
            bool present = (e & Pte.Present) != 0;
            bool huge = (e & Pte.PageSize) != 0;
            if (level >= 4)
            {
                if (!present)
                    problems.Add($"{Where(level, i, tablePa, va, e)}: not empty and not present (Linux's p{(level == 5 ? "gd" : "4d")}_bad; walks skip it)");
                else if (huge)
                    problems.Add($"{Where(level, i, tablePa, va, e)}: PS is reserved at level {level}");
                else
                    Link(e, level, i, tablePa, va, reached, problems);
                continue;
            }
            if (level == 1)
                continue; // every value is a PTE Linux can hold: present, PROT_NONE, marker or swap entry
            if (present && !huge)
            {
                Link(e, level, i, tablePa, va, reached, problems);
                continue;
            }
            if (!LinuxPte.IsPmdPresent(e))
                continue; // a huge swap-format entry (THP migration, hugetlb marker)
            if (!huge)
                problems.Add($"{Where(level, i, tablePa, va, e)}: PROT_NONE without PS is neither a table link nor a huge leaf");
            else if ((e & (level == 2 ? Pte.Reserved2MLeaf : Pte.Reserved1GLeaf)) != 0)
                problems.Add($"{Where(level, i, tablePa, va, e)}: reserved bits 13..{(level == 2 ? 20 : 29)} set in a {(level == 2 ? "2 MiB" : "1 GiB")} leaf");
        }
    }

    private static string Where(int level, int index, ulong tablePa, ulong va, ulong e) =>
        $"level-{level} entry {index} of table 0x{tablePa:X} (va 0x{va:X}) = 0x{e:X}";

    private void Link(ulong e, int level, int index, ulong tablePa, ulong va, HashSet<ulong> reached, List<string> problems)
    {
        ulong child = e & Pte.PfnMask;
        if (!_tables.ContainsTable(child))
            problems.Add($"{Where(level, index, tablePa, va, e)}: links 0x{child:X}, which is not a table of the source");
        else if (!reached.Add(child))
            problems.Add($"{Where(level, index, tablePa, va, e)}: links table 0x{child:X}, which is already linked elsewhere (or is an ancestor)");
        else
            VerifyTable(child, level - 1, va, reached, problems);
    }

    /// <summary>Sign-extends bit VirtualBits-1, so upper-half addresses print as the CPU sees them.</summary>
    private ulong Canonical(ulong va)
    {
        int s = 64 - VirtualBits;
        return (ulong)((long)(va << s) >> s);
    }
}
