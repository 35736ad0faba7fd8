using FastPT.Kernels;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>Translate of random addresses in a populated range (the CPU-side walk alone).</summary>
public sealed unsafe class EngineFaults : IDisposable
{
    private readonly EngineRange _range;
    private readonly ulong[] _addresses;

    public EngineFaults(ulong bytes, int addresses, int seed = 1)
    {
        _range = new EngineRange(bytes, populated: true);
        var r = new Random(seed);
        _addresses = [.. Enumerable.Range(0, addresses).Select(_ => EngineRange.Base + ((ulong)r.NextInt64(_range.Pages) << 12) + (ulong)r.Next(4096))];
    }

    public int Count => _addresses.Length;

    /// <summary>Read translations of every address; returns how many succeeded.</summary>
    public long TranslateAll()
    {
        long ok = 0;
        var cpu = CpuMode.UserMode;
        foreach (ulong va in _addresses)
            ok += _range.Space.Translate(va, AccessType.Read, cpu).Success ? 1 : 0;
        return ok;
    }

    public void Dispose() => _range.Dispose();
}
