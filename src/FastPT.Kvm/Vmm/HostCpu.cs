using FastPT.Kvm.Interop;

namespace FastPT.Kvm.Vmm;

/// <summary>What the host CPU itself has (/proc/cpuinfo), to offer a guest features KVM does not list.</summary>
public static class HostCpu
{
    public static IReadOnlySet<string> Flags { get; } = ReadFlags();

    private static HashSet<string> ReadFlags()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("flags", StringComparison.Ordinal))
                    return [.. line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        }
        catch (IOException)
        {
        }
        return [];
    }

    /// <summary>Sets the CPUID bits for SMEP and SMAP where the host CPU has them. (1 GiB pages are not offered: kvm_pvm's walker still treats PS in a PDPTE as reserved; see docs/kvm.md.)</summary>
    internal static void AddPagingFeatures(Span<KvmCpuidEntry> cpuid)
    {
        for (int i = 0; i < cpuid.Length; i++)
        {
            ref var e = ref cpuid[i];
            if (e.Function == 7 && e.Index == 0)
            {
                if (Flags.Contains("smep"))
                    e.Ebx |= 1u << 7;
                if (Flags.Contains("smap"))
                    e.Ebx |= 1u << 20;
            }
        }
    }
}
