using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace FastPT.Results.Model;

/// <summary>
/// Reads where a run happens: commit (and whether the tree was dirty), runtime, OS and kernel,
/// CPU model and flags, core count, hypervisor flag and the load average. Nothing here throws:
/// what cannot be read stays null.
/// </summary>
public static class EnvironmentProbe
{
    /// <summary>
    /// The environment now. The commit comes from FASTPT_COMMIT (and FASTPT_DIRTY=0/1) when set,
    /// else from git in the directory of <paramref name="sourceDirectory"/> (default: this
    /// program's directory, which lies inside the checkout it was built from), else the current
    /// directory.
    /// </summary>
    public static RunEnvironment Capture(string? isa, string? args = null, string? sourceDirectory = null)
    {
        var (commit, dirty, commitTime, subject) = Commit(sourceDirectory);
        string? flags = CpuInfo("flags");
        return new RunEnvironment
        {
            Commit = commit,
            Dirty = dirty,
            CommitTime = commitTime,
            Subject = subject,
            Time = DateTimeOffset.UtcNow,
            Runtime = RuntimeInformation.FrameworkDescription,
            Os = OsName(),
            Kernel = ReadTrimmed("/proc/sys/kernel/osrelease") ?? RuntimeInformation.OSDescription,
            CpuModel = CpuInfo("model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
            CpuFlags = flags,
            Isa = isa,
            Cores = Environment.ProcessorCount,
            Hypervisor = flags?.Split(' ').Contains("hypervisor"),
            LoadBefore = LoadAverage(),
            Args = args,
        };
    }

    /// <summary>1, 5 and 15-minute load averages (Linux /proc/loadavg), or null.</summary>
    public static double[]? LoadAverage()
    {
        string? s = ReadTrimmed("/proc/loadavg");
        if (s == null)
            return null;
        string[] parts = s.Split(' ');
        if (parts.Length < 3)
            return null;
        var load = new double[3];
        for (int i = 0; i < 3; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out load[i]))
                return null;
        return load;
    }

    private static (string? Commit, bool? Dirty, DateTimeOffset? Time, string? Subject) Commit(string? sourceDirectory)
    {
        string? env = Environment.GetEnvironmentVariable("FASTPT_COMMIT");
        if (!string.IsNullOrWhiteSpace(env))
        {
            string? d = Environment.GetEnvironmentVariable("FASTPT_DIRTY");
            return (env.Trim(), d == null ? null : d is "1" or "true", null, null);
        }
        foreach (string dir in new[] { sourceDirectory ?? AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            string? head = Git(dir, "log", "-1", "--format=%H%n%cI%n%s");
            if (head == null)
                continue;
            string[] lines = head.Split('\n');
            string? status = Git(dir, "status", "--porcelain", "--untracked-files=no");
            DateTimeOffset? time = lines.Length > 1 && DateTimeOffset.TryParse(lines[1], CultureInfo.InvariantCulture, out var t) ? t : null;
            return (lines[0], status == null ? null : status.Length > 0, time, lines.Length > 2 ? lines[2] : null);
        }
        return (null, null, null, null);
    }

    private static string? Git(string dir, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
            foreach (string a in args)
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi);
            if (p == null)
                return null;
            string output = p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            if (!p.WaitForExit(10_000) || p.ExitCode != 0)
                return null;
            return output.TrimEnd('\n');
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string? OsName()
    {
        try
        {
            foreach (string line in File.ReadLines("/etc/os-release"))
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
                    return line["PRETTY_NAME=".Length..].Trim('"');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return RuntimeInformation.OSDescription;
    }

    private static string? CpuInfo(string key)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && line[..colon].Trim() == key)
                    return line[(colon + 1)..].Trim();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
