namespace FastPT.Scenarios.Language;

/// <summary>The first bad line of a script. ToString is the exact stderr line.</summary>
public sealed record ScriptError(int Line, string Message)
{
    public override string ToString() => $"error: line {Line}: {Message}";
}

/// <summary>Thrown inside the parser for one line; the parser turns it into a <see cref="ScriptError"/>.</summary>
internal sealed class ScriptErrorException(string message) : Exception(message);
