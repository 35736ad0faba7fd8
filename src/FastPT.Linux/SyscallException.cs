using System.Runtime.InteropServices;
using FastPT.Linux.Interop;

namespace FastPT.Linux;

/// <summary>A libc/system call failed; the message names the call and the errno.</summary>
public sealed class SyscallException : Exception
{
    public SyscallException(string call, int errno)
        : base($"{call} failed: {Errno.Describe(errno)}")
    {
        Call = call;
        ErrorNumber = errno;
    }

    public string Call { get; }

    public int ErrorNumber { get; }

    /// <summary>Throws for the last P/Invoke errno when <paramref name="failed"/>.</summary>
    public static void ThrowIf(bool failed, string call)
    {
        if (failed)
            throw new SyscallException(call, Marshal.GetLastPInvokeError());
    }
}
