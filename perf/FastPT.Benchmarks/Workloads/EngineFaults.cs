using FastPT.Kernels;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Benchmarks.Workloads;

/// <summary>
/// Translate of random addresses, and the engine side of a uffd-wp fault round trip: a write
/// translation faults on a write-protected page, the handler resolves that one page
/// (change_protection with UFFD_WP_RESOLVE), and the retried translation succeeds.
/// </summary>
public sealed unsafe class EngineFaults : IDisposable
{
    private readonly EngineRange _range;
    private readonly ulong[] _addresses;
    private readonly ChangeProtectionParams _resolve = ChangeProtectionParams.UffdUnprotect(Entries.PgProt.Shared);

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

    /// <summary>Write-protects the whole range (not timed).</summary>
    public void ProtectAll() => _range.Protect();

    /// <summary>Fault, resolve, retry for every address; throws if the model does not behave.</summary>
    public long FaultRoundTrips()
    {
        var cpu = CpuMode.UserMode;
        long n = 0;
        foreach (ulong va in _addresses)
        {
            ulong page = va & ~4095UL;
            if (_range.Space.Translate(va, AccessType.Write, cpu).Success)
                continue; // already resolved by an earlier address on the same page
            var op = new ChangeProtectionOp(_resolve, splitHuge: false);
            RangeWalker.Walk(_range.Space, page, page + 4096, ref op);
            if (!_range.Space.Translate(va, AccessType.Write, cpu).Success)
                throw new InvalidOperationException($"write to 0x{va:X} still faults after resolve");
            n++;
        }
        return n;
    }

    public void Dispose() => _range.Dispose();
}
