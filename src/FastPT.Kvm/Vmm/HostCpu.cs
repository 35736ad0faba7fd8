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

    /// <summary>Sets the CPUID bits of the requested features where the host CPU has them.</summary>
    internal static void AddPagingFeatures(Span<KvmCpuidEntry> cpuid, ExtraGuestFeatures extras)
    {
        for (int i = 0; i < cpuid.Length; i++)
        {
            ref var e = ref cpuid[i];
            if (e.Function == 7 && e.Index == 0)
            {
                if ((extras & ExtraGuestFeatures.Smep) != 0 && Flags.Contains("smep"))
                    e.Ebx |= 1u << 7;
                if ((extras & ExtraGuestFeatures.Smap) != 0 && Flags.Contains("smap"))
                    e.Ebx |= 1u << 20;
            }
            if (e.Function == 0x8000_0001 && (extras & ExtraGuestFeatures.Pages1G) != 0 && Flags.Contains("pdpe1gb"))
                e.Edx |= 1u << 26;
        }
    }
}
