namespace FastPT.Fuzz;

/// <summary>
/// One fuzz target: a parser of outside input and its contract. <see cref="Run"/> returns when the
/// input parsed, or when it was refused with the parser's documented error (checked to name
/// where and what); anything else escaping it — another exception type, a
/// <see cref="ContractViolation"/>, a hang or a crash — is a finding.
/// </summary>
/// <param name="Name">The name `FastPT.Fuzz NAME` and the corpus folder use.</param>
/// <param name="Parses">What the target feeds its input to (for --help and docs).</param>
/// <param name="Run">Feeds one input to the parser and checks the contract.</param>
public sealed record FuzzTarget(string Name, string Parses, Action<byte[]> Run);

/// <summary>The parser answered, but broke its contract (a refused input with an unclear error, or a result that is not valid).</summary>
public sealed class ContractViolation(string message) : Exception(message);
