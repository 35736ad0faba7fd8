using FastPT.Paging;
using FastPT.Tlb;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// Translations as an emulator's MMU makes them, over the populated 1 GiB of 4 KiB pages of
/// <see cref="EngineRange"/>: single walks, batch walks, and the software TLB hitting (a
/// working set it holds) and missing (random addresses: a walk and a fill each). Shared by the
/// BenchmarkDotNet suite and `fastpt bench`.
/// </summary>
public sealed class EngineTlb : IDisposable
{
    private const int Chunk = 1024;   // addresses per batch call, as an emulator would gather them
    private const int HotPages = 256; // a working set the TLB holds
    private readonly EngineRange _range;
    private readonly ulong[] _random, _hot;
    private readonly TranslateResult[] _results = new TranslateResult[Chunk];
    private readonly SoftwareTlb _tlb;
    private readonly CpuMode _cpu = CpuMode.UserMode;

    public EngineTlb(ulong bytes, int addresses, int seed = 1)
    {
        if (addresses % Chunk != 0)
            throw new ArgumentOutOfRangeException(nameof(addresses), addresses, $"a multiple of {Chunk} addresses");
        _range = new EngineRange(bytes, populated: true);
        var r = new Random(seed);
        _random = [.. Enumerable.Range(0, addresses).Select(_ => EngineRange.Base + ((ulong)r.NextInt64(_range.Pages) << 12) + (ulong)r.Next(4096))];
        _hot = [.. Enumerable.Range(0, addresses).Select(_ => EngineRange.Base + ((ulong)r.Next(HotPages) << 12) + (ulong)r.Next(4096))];
        _tlb = new SoftwareTlb(_range.Space, _cpu);
        TlbHits(); // the working set is in the TLB from now on
    }

    public int Count => _random.Length;

    /// <summary>One Translate call per random address.</summary>
    public long Single()
    {
        long ok = 0;
        foreach (ulong va in _random)
            ok += _range.Space.Translate(va, AccessType.Read, _cpu).Success ? 1 : 0;
        return ok;
    }

    /// <summary>The same addresses through the batch Translate, 1,024 at a time.</summary>
    public long Batch()
    {
        long ok = 0;
        for (int i = 0; i < _random.Length; i += Chunk)
        {
            _range.Space.Translate(_random.AsSpan(i, Chunk), AccessType.Read, _cpu, _results);
            ok += _results[0].Success ? 1 : 0;
        }
        return ok;
    }

    /// <summary>TLB lookups that hit: addresses in the 256 pages it holds.</summary>
    public long TlbHits()
    {
        long ok = 0;
        foreach (ulong va in _hot)
            ok += _tlb.Translate(va, AccessType.Read).Success ? 1 : 0;
        return ok;
    }

    /// <summary>TLB lookups of random addresses in 1 GiB: nearly all miss, walk and fill.</summary>
    public long TlbMisses()
    {
        long ok = 0;
        foreach (ulong va in _random)
            ok += _tlb.Translate(va, AccessType.Read).Success ? 1 : 0;
        return ok;
    }

    public void Dispose() => _range.Dispose();
}
