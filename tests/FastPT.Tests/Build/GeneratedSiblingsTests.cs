using System.Diagnostics;
using Xunit;

namespace FastPT.Tests.Build;

/// <summary>
/// The Vector256/Vector128 kernels are generated from the Vector512 sources: regenerate them
/// into a temporary folder and require the committed files to be identical, so an edit to a
/// generated file (or a forgotten regeneration) fails the build's tests instead of silently
/// leaving the ISAs with different logic.
/// </summary>
public class GeneratedSiblingsTests
{
    [Fact]
    public void CommittedSiblingsMatchTheGenerator()
    {
        string kernels = Path.Combine(RepoRoot(), "src", "FastPT", "Kernels");
        string script = Path.Combine(kernels, "generate-isa-siblings.sh");
        string outDir = Directory.CreateTempSubdirectory("fastpt-siblings-").FullName;
        try
        {
            var psi = new ProcessStartInfo("bash", [script, outDir]) { RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"generate-isa-siblings.sh failed: {err}");
            string[] generated = Directory.GetFiles(outDir, "*.g.cs");
            Assert.NotEmpty(generated);
            string[] committed = Directory.GetFiles(kernels, "*Vector*.g.cs");
            Assert.Equal(committed.Select(Path.GetFileName).Order(), generated.Select(Path.GetFileName).Order());
            foreach (string file in generated)
            {
                string name = Path.GetFileName(file);
                Assert.True(File.ReadAllText(file) == File.ReadAllText(Path.Combine(kernels, name)),
                    $"src/FastPT/Kernels/{name} differs from what generate-isa-siblings.sh makes of its Vector512 source; edit the Vector512 file and run the script");
            }
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastPT.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no FastPT.sln above {AppContext.BaseDirectory}");
    }
}
