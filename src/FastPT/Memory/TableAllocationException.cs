namespace FastPT;

/// <summary>A table source could not supply a table; the operation left every table consistent.</summary>
public sealed class TableAllocationException : InvalidOperationException
{
    /// <summary>Creates the exception with a message that says which source ran out and why.</summary>
    public TableAllocationException(string message) : base(message) { }
}
