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
        // KVM's side needs /dev/kvm and is the step's kernel baseline (skipped by --no-kernel).
        string? noKvm = !o.Kernel ? "--no-kernel" : KvmSystem.UnavailableReason();
        using var d = new DirtyLogPair(withKvm: noKvm == null);
        // The KVM resets are slow (a fault per written page), so TimeCycle's second of warm-up
        // would call FastPT's side too few times for tiered compilation: warm it alone first.
        var warm = System.Diagnostics.Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 2000)
        {
            d.EngineReset();
            d.EngineGetClear();
        }
        var c = noKvm == null
            ? BenchSuite.TimeCycle(o.Repetitions, d.Pages, (d.EngineGetClear, d.EngineReset), (d.KvmGetClear, d.KvmReset))
            : [BenchSuite.Time(o, d.Pages, d.EngineGetClear, d.EngineReset)];
        var (engine, kvm) = d.LastReported();
        if (engine != DirtyLogPair.Written || (noKvm == null && kvm < DirtyLogPair.Written))
            throw new InvalidOperationException($"dirty-log: the harvests reported {engine} (FastPT) and {kvm} (KVM) pages; both must report the {DirtyLogPair.Written} written");
        string baseline = noKvm != null
            ? $"no KVM baseline ({noKvm})"
            : "the kernel figure is KVM's " + (d.ManualProtect ? "KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG (MANUAL_DIRTY_LOG_PROTECT2)" : "KVM_GET_DIRTY_LOG (MANUAL_DIRTY_LOG_PROTECT2 not offered: GET re-protects)") +
              $" on the VM's {d.Pages}-page RAM slot, kvm_pvm shadow paging; FastPT's figure excludes executing its flush plan, KVM's includes its TLB flush";
        results.Add(new("dirty-log-get-clear", "DirtyLog.Get + DirtyLog.Clear (shared tables, 4 KiB PTEs)", d.Pages, c[0], null, noKvm == null ? c[1] : null, null,
            $"per page of a {d.Pages}-page slot, {DirtyLogPair.Written} pages written between harvests; {baseline}"));

        // The write-protect-based log: Clear write-protects the written pages again. KVM's side of
        // the row above is already write-protect-based (shadow paging has no PML), so it is this
        // row's baseline too and is not timed twice.
        using var wp = new DirtyLogPair(withKvm: false, Operations.DirtyLogMode.WriteProtect);
        warm.Restart();
        while (warm.ElapsedMilliseconds < 1000)
        {
            wp.EngineReset();
            wp.EngineGetClear();
        }
        var w = BenchSuite.Time(o, wp.Pages, wp.EngineGetClear, wp.EngineReset);
        if (wp.LastReported().Engine != DirtyLogPair.Written)
            throw new InvalidOperationException($"dirty-log-wp: the harvest reported {wp.LastReported().Engine} pages, not the {DirtyLogPair.Written} written");
        results.Add(new("dirty-log-wp-get-clear", "DirtyLog.Get + DirtyLog.Clear, write-protect mode (shared tables, 4 KiB PTEs)", wp.Pages, w, null, null, null,
            $"per page of a {wp.Pages}-page slot, {DirtyLogPair.Written} pages logged by HandleWriteFault between harvests (untimed); Clear write-protects them again; KVM's figure is in dirty-log-get-clear (its shadow-paging log is write-protect-based)"));
    }
}
