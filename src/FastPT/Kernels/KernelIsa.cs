using System.Runtime.Intrinsics;

namespace FastPT.Kernels;

/// <summary>The vector width a kernel runs at. Names match FASTPT_ISA values.</summary>
public enum KernelIsa
{
    /// <summary>One entry at a time: the readable specification.</summary>
    Scalar,
    /// <summary>Vector128: 2 entries per step (SSE / NEON).</summary>
    V128,
    /// <summary>Vector256: 4 entries per step (AVX2).</summary>
    Avx2,
    /// <summary>Vector512: 8 entries per step (AVX-512).</summary>
    Avx512,
}

/// <summary>
/// Picks the kernels' ISA once per process: the widest the CPU accelerates, or the one
/// FASTPT_ISA names. A static readonly field, so tier-1 code folds the dispatch switch away.
/// </summary>
public static class KernelIsas
{
    public const string EnvironmentVariable = "FASTPT_ISA";

    /// <summary>The ISA every dispatching kernel uses in this process.</summary>
    public static readonly KernelIsa Selected = Select(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>The ISAs this CPU (and the runtime's DOTNET_Enable* switches) accelerate, widest first, scalar last.</summary>
    public static IReadOnlyList<KernelIsa> Available { get; } = FindAvailable();

    public static bool IsAvailable(KernelIsa isa) => isa switch
    {
        KernelIsa.Avx512 => Vector512.IsHardwareAccelerated,
        KernelIsa.Avx2 => Vector256.IsHardwareAccelerated,
        KernelIsa.V128 => Vector128.IsHardwareAccelerated,
        KernelIsa.Scalar => true,
        _ => false,
    };

    public static string Name(KernelIsa isa) => isa switch
    {
        KernelIsa.Avx512 => "avx512",
        KernelIsa.Avx2 => "avx2",
        KernelIsa.V128 => "v128",
        _ => "scalar",
    };

    /// <summary>
    /// The ISA for a FASTPT_ISA value (null or empty = the widest available). Throws with
    /// what was wrong and how to fix it for an unknown name or one this CPU lacks.
    /// </summary>
    public static KernelIsa Select(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
            return FindAvailable()[0];
        KernelIsa isa = value.Trim().ToLowerInvariant() switch
        {
            "avx512" => KernelIsa.Avx512,
            "avx2" => KernelIsa.Avx2,
            "v128" => KernelIsa.V128,
            "scalar" => KernelIsa.Scalar,
            _ => throw new InvalidOperationException(
                $"{EnvironmentVariable}='{value}' is not a kernel ISA; use one of avx512, avx2, v128, scalar, or unset it to pick the widest the CPU has"),
        };
        if (!IsAvailable(isa))
            throw new InvalidOperationException(
                $"{EnvironmentVariable}={Name(isa)} but this CPU or runtime does not accelerate it (available: {string.Join(", ", FindAvailable().Select(Name))}); pick one of those or unset {EnvironmentVariable}");
        return isa;
    }

    private static KernelIsa[] FindAvailable() =>
        [.. new[] { KernelIsa.Avx512, KernelIsa.Avx2, KernelIsa.V128, KernelIsa.Scalar }.Where(IsAvailable)];
}
