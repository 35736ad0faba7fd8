using FastPT.Kvm.Interop;

namespace FastPT.Kvm.Vmm;

/// <summary>The paging-relevant features a guest gets from KVM_GET_SUPPORTED_CPUID.</summary>
public sealed record GuestCpuFeatures(
    bool Nx, bool Pages1G, bool Smep, bool Smap, bool Pku, bool La57, bool Pcid, int MaxPhysicalAddressBits, string Vendor)
{
    public static GuestCpuFeatures From(ReadOnlySpan<KvmCpuidEntry> cpuid)
    {
        static KvmCpuidEntry Find(ReadOnlySpan<KvmCpuidEntry> cpuid, uint function)
        {
            foreach (var e in cpuid)
                if (e.Function == function && e.Index == 0)
                    return e;
            return default;
        }
        var l0 = Find(cpuid, 0);
        var l1 = Find(cpuid, 1);
        var l7 = Find(cpuid, 7);
        var e1 = Find(cpuid, 0x8000_0001);
        var e8 = Find(cpuid, 0x8000_0008);
        Span<byte> vendor = stackalloc byte[12];
        BitConverter.TryWriteBytes(vendor, l0.Ebx);
        BitConverter.TryWriteBytes(vendor[4..], l0.Edx);
        BitConverter.TryWriteBytes(vendor[8..], l0.Ecx);
        int maxPhys = e8.Function == 0 ? 36 : (int)(e8.Eax & 0xFF);
        return new GuestCpuFeatures(
            Nx: (e1.Edx & (1u << 20)) != 0,
            Pages1G: (e1.Edx & (1u << 26)) != 0,
            Smep: (l7.Ebx & (1u << 7)) != 0,
            Smap: (l7.Ebx & (1u << 20)) != 0,
            Pku: (l7.Ecx & (1u << 3)) != 0,
            La57: (l7.Ecx & (1u << 16)) != 0,
            Pcid: (l1.Ecx & (1u << 17)) != 0,
            MaxPhysicalAddressBits: maxPhys,
            Vendor: System.Text.Encoding.ASCII.GetString(vendor));
    }

    public bool IsAmd => Vendor == "AuthenticAMD";

    public override string ToString() =>
        $"{Vendor}: NX={Nx} 1G={Pages1G} SMEP={Smep} SMAP={Smap} PKU={Pku} LA57={La57} PCID={Pcid} MAXPHYADDR={MaxPhysicalAddressBits}";
}
