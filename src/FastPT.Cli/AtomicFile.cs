namespace FastPT.Cli;

/// <summary>
/// Output files that are either complete or absent: the content goes to a hidden temporary file
/// in the same directory (so the final rename is atomic, never a copy across file systems), which
/// replaces the target only when the writer succeeded; on any failure the temporary is deleted
/// and an existing target is left as it was.
/// </summary>
internal static class AtomicFile
{
    /// <summary>
    /// Throws <see cref="CliInputException"/> unless <paramref name="path"/> can be written: a
    /// file name (not a directory) in an existing, writable directory. Call it before long work,
    /// so a bad -o fails in a second, not after the run.
    /// </summary>
    /// <param name="option">How the user gave the path (e.g. "-o"), for the message.</param>
    public static string CheckWritable(string path, string option)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (Directory.Exists(full))
            throw new CliInputException($"{option} {path}: is a directory; give the name of a file to write");
        if (!Directory.Exists(dir))
            throw new CliInputException($"{option} {path}: directory {dir} does not exist; create it first or choose another path");
        // The only reliable test (root ignores permission bits, read-only mounts and /proc do not): create the temporary.
        string probe = TempPath(full);
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"{option} {path}: cannot write in {dir} ({e.Message}); choose a writable directory");
        }
        return full;
    }

    /// <summary>
    /// Calls <paramref name="write"/> with a temporary path beside <paramref name="path"/>, then
    /// renames it over <paramref name="path"/>. If <paramref name="write"/> throws, the temporary
    /// is deleted and the exception propagates; <paramref name="path"/> is untouched.
    /// </summary>
    public static T Write<T>(string path, Func<string, T> write)
    {
        string full = Path.GetFullPath(path);
        string temp = TempPath(full);
        try
        {
            T result = write(temp);
            if (!File.Exists(temp))
                throw new InvalidOperationException($"the writer for {path} returned without writing its temporary file {temp}");
            File.Move(temp, full, overwrite: true);
            return result;
        }
        finally
        {
            File.Delete(temp); // gone already after a successful rename
        }
    }

    /// <summary>A hidden name in the target's directory, unique per call: ".NAME.RANDOM.tmp".</summary>
    private static string TempPath(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Path.GetRandomFileName()}.tmp");
}
