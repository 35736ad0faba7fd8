namespace FastPT.Cli;

/// <summary>
/// Bad input a command found itself (an option out of range, an output path it cannot write):
/// the message says what is wrong, where, and how to fix it. <see cref="CliErrors"/> prints it
/// as the command's one error line and exits with <see cref="ExitCodes.BadInput"/>.
/// </summary>
internal sealed class CliInputException(string message) : Exception(message);
