using FastPT.Scenarios.Generation;
using FastPT.Scenarios.Language;

namespace FastPT.Scenarios.Tests.Differential;

public sealed class ScriptMinimiserTests
{
    [Fact]
    public void Drops_unneeded_lines_and_shrinks_numbers_while_the_predicate_holds()
    {
        var script = "region a anon 1024 wp thp\nwrite a:0+8\nread a:3\nprotect a:100+40 r   # comment\nzap a:0+512\npagemap a\n";
        // Stand-in for "engine and kernel disagree": valid, still protects page 100 or beyond read-only.
        bool Fails(string text) => Script.Parse(text).Error is null
            && text.Split('\n').Any(l => l.StartsWith("protect a:", StringComparison.Ordinal) && l.EndsWith(" r", StringComparison.Ordinal)
                && int.Parse(l.Split(':')[1].Split('+')[0], System.Globalization.CultureInfo.InvariantCulture) >= 100);
        var minimal = ScriptMinimiser.Minimise(script, Fails, TimeSpan.FromSeconds(20));
        Assert.True(Fails(minimal), minimal);
        Assert.Equal("region a anon 101\nprotect a:100+1 r\n", minimal);
    }

    [Fact]
    public void Returns_the_script_unchanged_when_the_predicate_does_not_hold()
    {
        const string script = "region a anon 8\nwrite a:0\n";
        Assert.Equal(script, ScriptMinimiser.Minimise(script, _ => false, TimeSpan.FromSeconds(5)));
    }
}
