namespace FastPT.Linux;

/// <summary>Serving a userfaultfd went wrong: a store that did not finish in time, or a message that was not the expected fault.</summary>
public sealed class UserfaultfdServeException(string message) : Exception(message);
