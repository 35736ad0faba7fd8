using System.Globalization;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Kernels;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>
/// Runs Data/change-protection.golden.txt: hand-computed (old, operation) -> (new, counted, flush)
/// vectors, clean and dirty pages, through the rule, every kernel (every ISA, both write modes,
/// alone in a vector and in uniform runs) and the PageTableOps verb (its flush plan).
/// </summary>
public unsafe class ChangeProtectionGoldenTests
{
    private readonly record struct Golden(ulong Old, ChangeProtectionParams P, ulong New, bool Counted, bool Flush);

    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        string[] lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Data", "change-protection.golden.txt"));
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length > 0 && line[0] != '#')
                data.Add(i + 1, line);
        }
        return data;
    }

    private static Golden Parse(int lineNumber, string line)
    {
        string[] t = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(t.Length == 8 && t[4] == "->", $"line {lineNumber}: expected 'OLD FLAGS NEWPROT VMA -> NEW COUNTED FLUSH'");
        var flags = t[1] switch
        {
            "wp" or "wp+markers" => ChangeProtectionFlags.UffdWp,
            "resolve" => ChangeProtectionFlags.UffdWpResolve,
            "resolve+try" => ChangeProtectionFlags.UffdWpResolve | ChangeProtectionFlags.TryChangeWritable,
            "mprotect" => ChangeProtectionFlags.None,
            "mprotect+try" => ChangeProtectionFlags.TryChangeWritable,
            _ => throw new FormatException($"line {lineNumber}: unknown flags '{t[1]}'"),
        };
        bool shared = t[3] != "private";
        var p = new ChangeProtectionParams(Hex(t[2]), flags, useMarkers: t[1] == "wp+markers",
            vmaWritable: true, vmaShared: shared, vmaUffdWp: t[3] == "shared-wp");
        return new Golden(Hex(t[0]), p, Hex(t[5]), t[6] == "1", t[7] == "1");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RuleMatchesGoldenVector(int lineNumber, string line)
    {
        var g = Parse(lineNumber, line);
        ulong actual = ChangeProtectionRule.Apply(g.Old, g.P, out bool counted);

        Assert.Equal($"0x{g.New:X16}", $"0x{actual:X16}");
        Assert.Equal(g.Counted, counted);
        Assert.Equal(g.Flush, FlushRules.NeedsFlush(g.Old, actual));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryKernelMatchesGoldenVector(int lineNumber, string line)
    {
        var g = Parse(lineNumber, line);
        foreach (var isa in KernelTestData.Isas)
            foreach (bool shared in new[] { false, true })
            {
                // Alone among guard markers (never changed, counted or flushed): the general lane
                // logic; and a uniform run of 64: the memoised path and the scan-like fast loops.
                for (int shape = 0; shape < 2; shape++)
                {
                    int count = shape == 0 ? 13 : 64;
                    var e = new ulong[count];
                    for (int i = 0; i < count; i++)
                        e[i] = shape == 0 && i != 5 ? PteMarker.Guard : g.Old;
                    var flush = new ulong[8];
                    long counted;
                    fixed (ulong* p = e)
                        counted = shared
                            ? ChangeProtectionKernels.Apply<SharedTables>(isa, p, count, g.P, flush)
                            : ChangeProtectionKernels.Apply<ExclusiveTables>(isa, p, count, g.P, flush);
                    string what = $"line {lineNumber} {isa} shared={shared} {(shape == 0 ? "alone" : "uniform run")}";
                    int changedLanes = shape == 0 ? 1 : count;
                    Assert.True(counted == (g.Counted ? changedLanes : 0), $"{what}: counted {counted}");
                    for (int i = 0; i < count; i++)
                    {
                        bool mine = shape == 1 || i == 5;
                        Assert.True(e[i] == (mine ? g.New : PteMarker.Guard), $"{what}: entry {i} is 0x{e[i]:X}");
                        bool flushed = (flush[i >> 6] >> (i & 63) & 1) != 0;
                        Assert.True(flushed == (mine && g.Flush), $"{what}: entry {i} flush bit {flushed}, golden says {g.Flush}");
                    }
                }
            }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheVerbMatchesGoldenVector(int lineNumber, string line)
    {
        var g = Parse(lineNumber, line);
        const ulong va = 0x7F00_0020_0000;
        foreach (bool shared in new[] { false, true })
        {
            using var tables = new NativeTableSource();
            using var space = new AddressSpace(tables);
            space.Map(va, 0x1000, PageSize.Size4K, PgProt.Shared);
            space.Entry(va, 1) = g.Old;
            var flush = new FlushPlan();
            var r = PageTableOps.ChangeProtection(space, va, va + 4096, g.P, flush, new WalkOptions { SharedTables = shared });
            Assert.Equal(g.New, space.Entry(va, 1));
            Assert.Equal(g.Counted ? 1 : 0, r.EntriesChanged);
            Assert.Equal(g.Flush ? [new FlushRange(va, va + 4096)] : Array.Empty<FlushRange>(), flush.Ranges.ToArray());
        }
    }

    private static ulong Hex(string s) => ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
