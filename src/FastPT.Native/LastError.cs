using System.Runtime.CompilerServices;
using System.Text;

namespace FastPT.Native;

/// <summary>
/// fastpt_last_error: the message of the last failing call on this thread, NUL-terminated UTF-8.
/// It lives in a pinned array owned by the thread (the GC frees it with the thread), so the C
/// side gets a stable pointer without anything to free.
/// </summary>
internal static unsafe class LastError
{
    [ThreadStatic]
    private static byte[]? t_message;

    /// <summary>Keeps <paramref name="message"/> for this thread and returns <paramref name="status"/>.</summary>
    public static int Set(int status, string message)
    {
        int length = Encoding.UTF8.GetByteCount(message);
        if (t_message == null || t_message.Length < length + 1)
            t_message = GC.AllocateUninitializedArray<byte>(Math.Max(length + 1, 256), pinned: true);
        Encoding.UTF8.GetBytes(message, t_message);
        t_message[length] = 0;
        return status;
    }

    /// <summary>The message, or an empty string when no call on this thread has failed.</summary>
    public static byte* Pointer =>
        t_message != null ? (byte*)Unsafe.AsPointer(ref t_message[0]) : (byte*)Unsafe.AsPointer(ref Unsafe.AsRef(in "\0"u8[0]));
}
