using FastPT.Benchmarks.Workloads;
using FastPT.Kvm.Vmm;

namespace FastPT.Benchmarks.Runner;

/// <summary>
/// The `dirty-log` step of `fastpt bench`: FastPT's DirtyLog get + clear against KVM's
/// KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG on a slot of the same size with the same share of
/// pages written, interleaved in one cycle. Without /dev/kvm the row has no KVM figure.
/// </summary>
public static class DirtyLogStep
{
    public static void Run(BenchOptions o, List<BenchResult> results)
    {
        if (KvmSystem.UnavailableReason() is { } why)
        {
            Console.Error.WriteLine($"dirty-log: KVM unavailable ({why}); no KVM baseline");
            return;
        }
        using var d = new DirtyLogPair();
        // The KVM resets are slow (a fault per written page), so TimeCycle's second of warm-up
        // would call FastPT's side too few times for tiered compilation: warm it alone first.
        var warm = System.Diagnostics.Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 2000)
        {
            d.EngineReset();
            d.EngineGetClear();
        }
        var c = BenchSuite.TimeCycle(o.Repetitions, d.Pages, (d.EngineGetClear, d.EngineReset), (d.KvmGetClear, d.KvmReset));
        var (engine, kvm) = d.LastReported();
        if (engine != DirtyLogPair.Written || kvm < DirtyLogPair.Written)
            throw new InvalidOperationException($"dirty-log: the harvests reported {engine} (FastPT) and {kvm} (KVM) pages; both must report the {DirtyLogPair.Written} written");
        results.Add(new("dirty-log-get-clear", "DirtyLog.Get + DirtyLog.Clear (shared tables, 4 KiB PTEs)", d.Pages, c[0], null, c[1], null,
            $"per page of a {d.Pages}-page slot, {DirtyLogPair.Written} pages written between harvests; the kernel figure is KVM's " +
            (d.ManualProtect ? "KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG (MANUAL_DIRTY_LOG_PROTECT2)" : "KVM_GET_DIRTY_LOG (MANUAL_DIRTY_LOG_PROTECT2 not offered: GET re-protects)") +
            $" on the VM's {d.Pages}-page RAM slot, kvm_pvm shadow paging; FastPT's figure excludes executing its flush plan, KVM's includes its TLB flush"));
    }
}
