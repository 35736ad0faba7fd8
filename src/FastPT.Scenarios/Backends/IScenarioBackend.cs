using FastPT.Kernels;

namespace FastPT.Scenarios.Backends;

/// <summary>
/// One side of the differential check: the engine (FastPT's own tables) or the live kernel.
/// The runner validates every statement before it calls a backend, so a backend only
/// sees well-formed requests on regions that exist; page numbers are region-relative.
/// </summary>
public interface IScenarioBackend : IDisposable
{
    /// <summary>Called once, before any region: the script-wide userfaultfd features.</summary>
    void Open(UffdFeatures features);

    void CreateRegion(RegionSpec region);

    /// <summary>
    /// Loads (write=false) or stores one byte in the page. A write-protect fault is resolved
    /// inside the backend (unprotect that one page, as a userfaultfd server would) and the
    /// access retried; the result says it happened. A segv leaves the access undone.
    /// </summary>
    AccessOutcome Access(string region, long page, bool write);

    /// <summary>madvise(MADV_DONTNEED).</summary>
    void Zap(string region, long first, long count);

    /// <summary>UFFDIO_WRITEPROTECT with mode WP (protect=true) or mode 0.</summary>
    void WriteProtect(string region, long first, long count, bool protect);

    /// <summary>mprotect.</summary>
    void Protect(string region, long first, long count, Protection protection);

    /// <summary>UFFDIO_UNREGISTER over the whole region (no-op when not registered).</summary>
    void Unregister(string region);

    /// <summary>The raw 64-bit /proc/self/pagemap entry of each page, in order.</summary>
    void Pagemap(string region, long first, long count, Span<ulong> entries);

    /// <summary>PAGEMAP_SCAN over the pages; returns the regions as the ioctl returns them, and its walk_end.</summary>
    ScanOutcome Scan(string region, long first, long count, ScanRequest request);
}

/// <summary>Script-wide userfaultfd features (a property of the one userfaultfd).</summary>
public readonly record struct UffdFeatures(bool WpUnpopulated, bool WpAsync);

public enum RegionKind { File, Anon }

/// <summary>A region statement. WpUnpopulated/WpAsync are script-wide, see <see cref="UffdFeatures"/>.</summary>
public sealed record RegionSpec(string Name, RegionKind Kind, long Pages, bool Wp, bool Thp);

public enum AccessOutcome { Completed, WpFault, Segv }

public enum Protection { None, Read, ReadWrite }

/// <summary>
/// The ioctl's filters. MaxPages 0 means unlimited. VecLength is the output vec's length; 0
/// (what scripts use) means one region per page, so the vec never fills.
/// </summary>
public readonly record struct ScanRequest(
    bool WriteProtectMatching,
    PageCategories Mask,
    PageCategories AnyOf,
    PageCategories Inverted,
    PageCategories Return,
    long MaxPages,
    int VecLength = 0)
{
    /// <summary>The vec's length for a scan of this many pages (a run holds at least one page).</summary>
    internal int VecLengthFor(long pages) => VecLength > 0 ? VecLength : (int)pages;
}

/// <summary>The ioctl's answer: its regions, and walk_end as a region-relative page (where a scan that max stopped would resume).</summary>
public sealed record ScanOutcome(IReadOnlyList<ScanRun> Runs, long WalkEnd);

/// <summary>One output region: pages First..Last inclusive, region-relative.</summary>
public readonly record struct ScanRun(long First, long Last, PageCategories Categories);
