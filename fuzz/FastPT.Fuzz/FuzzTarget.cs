namespace FastPT.Fuzz;

/// <summary>
/// One fuzz target: a parser of outside input and its contract. <see cref="Run"/> returns when the
/// input parsed, or when it was refused with the parser's documented error (checked to name
/// where and what); anything else escaping it — another exception type, a
/// <see cref="ContractViolation"/>, a hang or a crash — is a finding.
/// </summary>
/// <param name="Name">The name `FastPT.Fuzz NAME` and the corpus folders use.</param>
/// <param name="Parses">What the target feeds its input to (for the usage text and docs).</param>
/// <param name="Parse">Feeds one input to the parser and checks what came back.</param>
public sealed record FuzzTarget(string Name, string Parses, Action<byte[]> Parse)
{
    /// <summary>
    /// Managed bytes one input may make the parser allocate: generous for real parsing, far below
    /// what a length field trusted from the input asks for (a fuzzed .nettrace made TraceEvent
    /// allocate 17 GB for one metadata record).
    /// </summary>
    public static long AllocationBudget(int inputBytes) => (64L << 20) + 1024L * inputBytes;

    /// <summary>Runs <see cref="Parse"/> on this thread and holds it to the allocation budget too.</summary>
    public void Run(byte[] input)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Parse(input);
        long used = GC.GetAllocatedBytesForCurrentThread() - before;
        if (used > AllocationBudget(input.Length))
            throw new ContractViolation($"{Name}: a {input.Length}-byte input made the parser allocate {used:N0} bytes (budget {AllocationBudget(input.Length):N0})");
    }
}

/// <summary>The parser answered, but broke its contract (a refused input with an unclear error, or a result that is not valid).</summary>
public sealed class ContractViolation(string message) : Exception(message);
