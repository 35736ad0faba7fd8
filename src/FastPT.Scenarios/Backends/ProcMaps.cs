using System.Globalization;

namespace FastPT.Scenarios.Backends;

/// <summary>Checks a tracked page protection against the kernel's VMA in /proc/self/maps.</summary>
internal static class ProcMaps
{
    public static void Verify(nint address, Protection expected)
    {
        ulong a = (ulong)address;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            ulong start = ulong.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong end = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (a < start || a >= end)
                continue;
            var perms = line.AsSpan(space + 1, 2);
            var actual = perms[0] != 'r' ? Protection.None : perms[1] == 'w' ? Protection.ReadWrite : Protection.Read;
            if (actual != expected)
                throw new ScenarioEnvironmentException(
                    $"tracked protection {expected} of 0x{address:X} disagrees with /proc/self/maps: {line}");
            return;
        }
        throw new ScenarioEnvironmentException($"0x{address:X} is not mapped according to /proc/self/maps");
    }
}
