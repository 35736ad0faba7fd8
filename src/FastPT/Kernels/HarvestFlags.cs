namespace FastPT;

/// <summary>Which hardware-set bit a harvest collects and clears.</summary>
public enum HarvestBit
{
    /// <summary>D (bit 6): pages written since the last harvest; clearing it needs a TLB flush.</summary>
    Dirty,
    /// <summary>A (bit 5): pages used since the last harvest; clearing it needs no flush.</summary>
    Accessed,
}

/// <summary>How a harvest treats the caller's bitmap and huge leaves at the range's edges.</summary>
[Flags]
public enum HarvestFlags
{
    /// <summary>Overwrite the bitmap's bits for the range; never split.</summary>
    None = 0,
    /// <summary>OR into the caller's bitmap (merging harvests, as KVM's dirty log users do).</summary>
    Accumulate = 1 << 0,
    /// <summary>Split a huge leaf the range covers in part, so the edges are tracked per 4 KiB page (allocates tables).</summary>
    SplitPartialHuge = 1 << 1,
}
