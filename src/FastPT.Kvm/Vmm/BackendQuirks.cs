namespace FastPT.Kvm.Vmm;

/// <summary>
/// What kvm_pvm does differently from the SDM, measured here (tests in
/// BackendCharacterisationTests keep checking it; docs/kvm.md has the evidence).
/// </summary>
public static class BackendQuirks
{
    /// <summary>
    /// PML4 slot 256 (0xFFFF8000_00000000..0xFFFF807F_FFFFFFFF) is taken by the backend while
    /// the guest runs natively at CPL 3: any CPL-3 access there is a not-present #PF whatever
    /// the guest's tables say. CPL-0 accesses (emulated, KVM's software walk) work.
    /// </summary>
    public const int ReservedPml4SlotAtCpl3 = 256;
}
