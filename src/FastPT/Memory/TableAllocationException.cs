namespace FastPT;

/// <summary>A table source could not supply a table; the operation left every table consistent.</summary>
public sealed class TableAllocationException : InvalidOperationException
{
    public TableAllocationException(string message) : base(message) { }
}
