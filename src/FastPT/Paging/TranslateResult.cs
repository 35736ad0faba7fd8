namespace FastPT;

/// <summary>
/// The outcome of a hardware walk: the physical address and page size, or the #PF error
/// code. <see cref="FaultLevel"/> is the level of the entry that stopped the walk (0 when
/// the fault is a permission fault on the whole translation, or on success).
/// </summary>
public readonly record struct TranslateResult(
    bool Success,
    ulong PhysicalAddress,
    PageSize Size,
    PageFaultError ErrorCode,
    int FaultLevel)
{
    public static TranslateResult Fault(PageFaultError error, int level = 0) => new(false, 0, default, error, level);
}
