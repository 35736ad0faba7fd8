using System.Text.Json.Serialization;

namespace FastPT.Benchmarks.Runner;

/// <summary>
/// One operation's medians from one run: the engine, the live kernel doing the same job, the
/// bare load+store pass over the same tables, and the scalar kernel; per 4 KiB page.
/// </summary>
public sealed record BenchResult(
    [property: JsonPropertyName("op")] string Op,
    [property: JsonPropertyName("pages")] long Pages,
    [property: JsonPropertyName("ns_per_page")] double NsPerPage,
    [property: JsonPropertyName("kernel_ns_per_page")] double? KernelNsPerPage,
    [property: JsonPropertyName("bare_ns_per_page")] double? BareNsPerPage,
    [property: JsonPropertyName("scalar_ns_per_page")] double? ScalarNsPerPage = null,
    [property: JsonPropertyName("note")] string? Note = null)
{
    [JsonIgnore]
    public double PagesPerSecond => 1e9 / NsPerPage;

    /// <summary>How many times faster than the kernel (kernel ns / engine ns).</summary>
    [JsonIgnore]
    public double? KernelSpeedup => KernelNsPerPage / NsPerPage;

    /// <summary>Engine time over the bare pass (1.0 = at the hardware limit).</summary>
    [JsonIgnore]
    public double? BareRatio => NsPerPage / BareNsPerPage;
}

/// <summary>The whole run, as `fastpt bench --json` prints it.</summary>
public sealed record BenchReport(
    [property: JsonPropertyName("cpu")] string Cpu,
    [property: JsonPropertyName("isa")] string Isa,
    [property: JsonPropertyName("results")] IReadOnlyList<BenchResult> Results);

[JsonSerializable(typeof(BenchReport))]
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
public sealed partial class BenchJsonContext : JsonSerializerContext;
