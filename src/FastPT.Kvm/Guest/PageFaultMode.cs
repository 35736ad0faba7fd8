namespace FastPT.Kvm.Guest;

/// <summary>What the guest's #PF handler does.</summary>
public enum PageFaultMode
{
    /// <summary>
    /// Probes: write CR2 and the error code (bit 63 set as a "faulted" flag) to the result slot
    /// r15 points at, then resume at r14 with RSP = r13 (skipping the faulting access).
    /// </summary>
    RecordAndSkip,

    /// <summary>
    /// Scenarios: put CR2, the error code and RIP in the mailbox, OUT to <see cref="GuestLayout.PortPageFault"/>
    /// so the VMM can resolve, then INVLPG the address and return to retry the access.
    /// </summary>
    ReportAndRetry,
}
