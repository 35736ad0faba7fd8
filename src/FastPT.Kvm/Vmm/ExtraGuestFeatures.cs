namespace FastPT.Kvm.Vmm;

/// <summary>
/// Paging features to give the guest beyond KVM_GET_SUPPORTED_CPUID, where the host CPU has
/// them (kvm_pvm leaves SMEP, SMAP and 1 GiB pages out). docs/kvm.md says what works.
/// </summary>
[Flags]
public enum ExtraGuestFeatures
{
    None = 0,
    /// <summary>Works: KVM's walker enforces CR4.SMEP for the (emulated) CPL-0 fetches.</summary>
    Smep = 1,
    /// <summary>Works: KVM's walker enforces CR4.SMAP with EFLAGS.AC for CPL-0 data accesses.</summary>
    Smap = 2,
    /// <summary>Does not work: the guest sees the CPUID bit but PS in a PDPTE still faults as reserved.</summary>
    Pages1G = 4,
    SmepSmap = Smep | Smap,
}
