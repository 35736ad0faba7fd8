using System.Globalization;
using FastPT.Kernels;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>Runs Data/change-protection.golden.txt: hand-computed (old, operation) -> (new, counted, flush) vectors.</summary>
public class ChangeProtectionGoldenTests
{
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

    [Theory]
    [MemberData(nameof(Cases))]
    public void RuleMatchesGoldenVector(int lineNumber, string line)
    {
        string[] t = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(t.Length == 8 && t[4] == "->", $"line {lineNumber}: expected 'OLD FLAGS NEWPROT VMA -> NEW COUNTED FLUSH'");
        ulong old = Hex(t[0]);
        ulong newProt = Hex(t[2]);
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
        var p = new ChangeProtectionParams(newProt, flags, useMarkers: t[1] == "wp+markers",
            vmaWritable: true, vmaShared: shared, vmaUffdWp: t[3] == "shared-wp");

        ulong actual = ChangeProtectionRule.Apply(old, p, out bool counted);

        Assert.Equal($"0x{Hex(t[5]):X16}", $"0x{actual:X16}");
        Assert.Equal(t[6] == "1", counted);
        Assert.Equal(t[7] == "1", FlushRules.NeedsFlush(old, actual));
    }

    private static ulong Hex(string s) => ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
