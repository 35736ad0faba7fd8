namespace FastPT;

/// <summary>
/// What went wrong in a <see cref="PageTable"/> call. The values are the status codes of the C
/// ABI (<c>FASTPT_ERR_*</c> in <c>include/fastpt.h</c>), which adds only
/// <c>FASTPT_ERR_INVALID_HANDLE</c> (1) and <c>FASTPT_ERR_INTERNAL</c> (9).
/// </summary>
public enum PageTableError
{
    /// <summary>A value outside its domain: levels, flags, options, a page size.</summary>
    InvalidArgument = 2,

    /// <summary>An address or length that is not 4 KiB-aligned (or, for memory, not aligned as required).</summary>
    Misaligned = 3,

    /// <summary>A range that is empty, reversed, not canonical, or crosses the non-canonical hole.</summary>
    InvalidRange = 4,

    /// <summary>A caller's buffer (a dirty bitmap) is shorter than the range needs.</summary>
    BufferTooSmall = 5,

    /// <summary><see cref="PageTable.MapRange"/> found an entry already in the range.</summary>
    AlreadyMapped = 6,

    /// <summary>The table memory has no 4 KiB table left (or <see cref="PageTableOptions.MaxTables"/> is reached).</summary>
    OutOfTables = 7,

    /// <summary>
    /// An entry links to a table outside the table memory (tables a guest wrote itself), where
    /// no result can say so: range verbs return <see cref="WalkStatus.OutsideGuestMemory"/> and
    /// <see cref="PageTable.Translate"/> <see cref="TranslateResult.OutsideGuestMemory"/> instead.
    /// </summary>
    CorruptTables = 8,
}
