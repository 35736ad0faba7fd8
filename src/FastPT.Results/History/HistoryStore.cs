using FastPT.Results.Model;

namespace FastPT.Results.History;

/// <summary>
/// perf/history/&lt;cpu-key&gt;.jsonl: one results v1 document per line, oldest first, one file per
/// machine kind (<see cref="RunEnvironment.CpuKey"/>), so a series never mixes machines.
/// </summary>
public sealed class HistoryStore(string directory)
{
    public string Directory { get; } = directory;

    public string PathFor(string cpuKey) => Path.Combine(Directory, cpuKey + ".jsonl");

    /// <summary>The machine keys that have a history here.</summary>
    public IReadOnlyList<string> Keys() =>
        System.IO.Directory.Exists(Directory)
            ? [.. System.IO.Directory.EnumerateFiles(Directory, "*.jsonl").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal)]
            : [];

    /// <summary>Every entry of one machine's history, oldest first; a bad line fails with its file and line number.</summary>
    public IReadOnlyList<ResultSet> Read(string cpuKey)
    {
        string path = PathFor(cpuKey);
        if (!File.Exists(path))
            throw new ResultsFormatException(path, $"no history for machine \"{cpuKey}\" (histories here: {string.Join(", ", Keys().DefaultIfEmpty("none"))})");
        var entries = new List<ResultSet>();
        int n = 0;
        foreach (string line in File.ReadLines(path))
        {
            n++;
            if (line.Length == 0)
                continue;
            entries.Add(ResultsJson.Deserialize(line, $"{path}:{n}"));
        }
        return entries;
    }

    /// <summary>
    /// Appends <paramref name="set"/> to its machine's history (written whole, then renamed
    /// over the old file). Refuses a run without a commit, a run of a dirty tree unless
    /// <paramref name="allowDirty"/>, and a run already in the history (same commit and time).
    /// </summary>
    public string Append(ResultSet set, string origin, bool allowDirty = false)
    {
        var e = set.Environment;
        if (string.IsNullOrWhiteSpace(e.Commit))
            throw new ResultsFormatException(origin, "the run names no commit, so it cannot take a place in the history; pass --commit SHA (or set FASTPT_COMMIT when running the benchmark)");
        if (e.Dirty == true && !allowDirty)
            throw new ResultsFormatException(origin, $"the run was built from a tree with uncommitted changes ({e.Commit}+dirty); commit first, or pass --allow-dirty");
        string path = PathFor(e.CpuKey);
        if (File.Exists(path))
        {
            foreach (var old in Read(e.CpuKey))
                if (old.Environment.Commit == e.Commit && old.Environment.Time == e.Time)
                    throw new ResultsFormatException(origin, $"this run (commit {e.Commit}, {e.Time:u}) is already in {path}");
        }
        string existing = File.Exists(path) ? File.ReadAllText(path) : "";
        if (existing.Length > 0 && !existing.EndsWith('\n'))
            existing += "\n";
        AtomicFile.WriteAllText(path, existing + ResultsJson.SerializeLine(set) + "\n");
        return path;
    }
}
