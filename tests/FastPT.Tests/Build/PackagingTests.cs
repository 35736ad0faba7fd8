using System.Text.RegularExpressions;
using Xunit;

namespace FastPT.Tests.Build;

/// <summary>
/// Directory.Build.props holds the repository's one address (RepositoryUrl: package metadata and
/// SourceLink); the package READMEs link to it by hand, so a change of address must reach them too.
/// </summary>
public partial class PackagingTests
{
    [Fact]
    public void PackageReadmesLinkOnlyToTheRepositoryUrl()
    {
        string root = GeneratedSiblingsTests.RepoRoot();
        string props = File.ReadAllText(Path.Combine(root, "Directory.Build.props"));
        string url = RepositoryUrl().Match(props).Groups[1].Value;
        Assert.StartsWith("https://", url);

        string[] packable = [.. Directory.GetFiles(Path.Combine(root, "src"), "*.csproj", SearchOption.AllDirectories)
            .Where(p => File.ReadAllText(p).Contains("<IsPackable>true</IsPackable>", StringComparison.Ordinal))];
        Assert.NotEmpty(packable);
        foreach (string readme in packable.Select(p => Path.Combine(Path.GetDirectoryName(p)!, "README.md")).Append(Path.Combine(root, "README.md")))
        {
            Assert.True(File.Exists(readme), $"{Path.GetRelativePath(root, readme)} is missing: every package carries the README.md beside its project");
            foreach (Match link in GitHubLink().Matches(File.ReadAllText(readme)))
                Assert.True(link.Value == url || link.Value.StartsWith(url + "/", StringComparison.Ordinal) || link.Value.StartsWith(url + "#", StringComparison.Ordinal),
                    $"{Path.GetRelativePath(root, readme)} links to {link.Value}, but the repository is {url} (Directory.Build.props' RepositoryUrl)");
        }
    }

    [GeneratedRegex("<RepositoryUrl>([^<]+)</RepositoryUrl>")]
    private static partial Regex RepositoryUrl();

    [GeneratedRegex(@"https://github\.com/[^\s)\]>`""]*")]
    private static partial Regex GitHubLink();
}
