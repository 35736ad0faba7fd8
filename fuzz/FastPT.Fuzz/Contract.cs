namespace FastPT.Fuzz;

/// <summary>Checks shared by the targets: what a refusal's message must say.</summary>
internal static class Contract
{
    /// <summary>A refusal names where (<paramref name="where"/>) and says what, on one line.</summary>
    public static void ClearMessage(string message, string where)
    {
        if (string.IsNullOrWhiteSpace(message))
            throw new ContractViolation("refused with an empty message");
        if (!message.Contains(where, StringComparison.Ordinal))
            throw new ContractViolation($"refusal does not say where ('{where}'): {message}");
        if (message.Contains('\n', StringComparison.Ordinal))
            throw new ContractViolation($"refusal spans several lines: {message}");
    }

    public static void That(bool condition, string what)
    {
        if (!condition)
            throw new ContractViolation(what);
    }
}
