using FastPT.Scenarios.Backends;

namespace FastPT.Scenarios.Language;

/// <summary>
/// A parsed and validated script: the statements before the first bad line, and that line's
/// error (null when the whole script is valid). Execution runs the statements, then reports the error.
/// </summary>
public sealed class Script
{
    internal Script(IReadOnlyList<Statement> statements, ScriptError? error)
    {
        Statements = statements;
        Error = error;
        bool unpopulated = false, async = false;
        foreach (var s in statements)
        {
            if (s is RegionStatement r)
            {
                unpopulated |= r.Unpopulated || r.Async;
                async |= r.Async;
            }
        }
        Features = new UffdFeatures(unpopulated, async);
    }

    public IReadOnlyList<Statement> Statements { get; }

    public ScriptError? Error { get; }

    /// <summary>
    /// Script-wide userfaultfd features, from the region statements that execute (those before
    /// the first bad line): WpUnpopulated if any says unpopulated or async, WpAsync if any says async.
    /// </summary>
    public UffdFeatures Features { get; }

    public bool HasThpRegion => Statements.Any(s => s is RegionStatement { Thp: true });

    public static Script Parse(string text) => ScriptParser.Parse(text);
}
