namespace FastPT;

/// <summary>
/// A <see cref="PageTable"/> call was refused or could not finish. <see cref="Error"/> says which
/// kind; the message says what, where, and how to fix it. A refused call changed nothing.
/// </summary>
public sealed class PageTableException : Exception
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    /// <param name="error">What kind of failure this is.</param>
    /// <param name="message">What, where, and how to fix it.</param>
    /// <param name="inner">The engine's exception behind this one, if any.</param>
    public PageTableException(PageTableError error, string message, Exception? inner = null)
        : base(message, inner) => Error = error;

    /// <summary>What kind of failure this is (the C ABI's status code).</summary>
    public PageTableError Error { get; }
}
