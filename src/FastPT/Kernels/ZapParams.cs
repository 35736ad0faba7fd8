namespace FastPT;

/// <summary>How a zap treats markers (Linux's zap flags and the VMA's uffd-wp state).</summary>
public readonly record struct ZapParams(bool DropMarkers, bool KeepUffdWpAsMarker)
{
    /// <summary>MADV_DONTNEED on a registered file mapping: write protection survives as markers.</summary>
    public static ZapParams DontNeedFileUffdWp => new(false, true);
    /// <summary>MADV_DONTNEED elsewhere (anonymous memory drops markers too).</summary>
    public static ZapParams DontNeed => new(true, false);
    /// <summary>munmap / exit: everything goes.</summary>
    public static ZapParams Unmap => new(true, false);
}
