namespace FastPT.Native;

/// <summary>
/// The status codes of include/fastpt.h. The engine's errors keep their <see cref="PageTableError"/>
/// numbers; the C ABI adds an invalid handle and an internal failure.
/// </summary>
internal static class Status
{
    public const int Ok = 0;
    public const int InvalidHandle = 1;
    public const int InvalidArgument = (int)PageTableError.InvalidArgument;
    public const int Misaligned = (int)PageTableError.Misaligned;
    public const int InvalidRange = (int)PageTableError.InvalidRange;
    public const int BufferTooSmall = (int)PageTableError.BufferTooSmall;
    public const int AlreadyMapped = (int)PageTableError.AlreadyMapped;
    public const int OutOfTables = (int)PageTableError.OutOfTables;
    public const int CorruptTables = (int)PageTableError.CorruptTables;
    public const int Internal = 9;

    /// <summary>The names fastpt_status_name returns, NUL-terminated, indexed by code.</summary>
    public static ReadOnlySpan<byte> Name(int status) => status switch
    {
        Ok => "FASTPT_OK\0"u8,
        InvalidHandle => "FASTPT_ERR_INVALID_HANDLE\0"u8,
        InvalidArgument => "FASTPT_ERR_INVALID_ARGUMENT\0"u8,
        Misaligned => "FASTPT_ERR_MISALIGNED\0"u8,
        InvalidRange => "FASTPT_ERR_INVALID_RANGE\0"u8,
        BufferTooSmall => "FASTPT_ERR_BUFFER_TOO_SMALL\0"u8,
        AlreadyMapped => "FASTPT_ERR_ALREADY_MAPPED\0"u8,
        OutOfTables => "FASTPT_ERR_OUT_OF_TABLES\0"u8,
        CorruptTables => "FASTPT_ERR_CORRUPT_TABLES\0"u8,
        Internal => "FASTPT_ERR_INTERNAL\0"u8,
        _ => "FASTPT_ERR_UNKNOWN\0"u8,
    };

    /// <summary>An exception caught at the boundary as a status, its message kept as the thread's last error.</summary>
    public static int From(Exception e) => e switch
    {
        PageTableException p => LastError.Set((int)p.Error, p.Message),
        ArgumentException => LastError.Set(InvalidArgument, e.Message),
        OutOfMemoryException => LastError.Set(Internal, "out of memory: " + e.Message),
        _ => LastError.Set(Internal, $"FastPT failed unexpectedly ({e.GetType().Name}): {e.Message}. Please report this with the call that caused it."),
    };
}
