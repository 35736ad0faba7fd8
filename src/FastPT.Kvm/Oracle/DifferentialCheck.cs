using System.Diagnostics;
using System.Runtime.InteropServices;
using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Memory;
using FastPT.Paging;

namespace FastPT.Kvm.Oracle;

/// <summary>
/// Holds FastPT's <see cref="AddressSpace.Translate(ulong, AccessType, in CpuMode, bool)"/> to what a KVM vCPU does on the same
/// tables. Per address space: a fresh VM (no shadow state from earlier spaces). Per batch:
/// A/D bits re-randomised, KVM's shadow pages dropped and CR3 reloaded, a random CPU mode,
/// then thousands of probes in one KVM_RUN. FastPT replays the same probes on a copy of the
/// tables taken before the run; outcomes and the tables afterwards must match bit for bit.
/// </summary>
public static unsafe class DifferentialCheck
{
    private const ulong TablesSize = GuestLayout.TablesEnd - GuestLayout.Tables;

    public static DifferentialReport Run(DifferentialOptions options, Action<string>? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Probes);
        if (options.ProbesPerBatch is <= 0 or > GuestLayout.MaxProbesPerRun)
            throw new ArgumentOutOfRangeException(nameof(options), options.ProbesPerBatch, $"probes per batch must be 1..{GuestLayout.MaxProbesPerRun}");
        var report = new DifferentialReport { Options = options };
        var rng = new Random(options.Seed);
        var clock = Stopwatch.StartNew();
        byte* model = (byte*)NativeMemory.AlignedAlloc((nuint)TablesSize, 4096);
        byte* before = (byte*)NativeMemory.AlignedAlloc((nuint)TablesSize, 4096);
        var probes = new Probe[options.ProbesPerBatch];
        try
        {
            int space = 0;
            while (report.Probes < options.Probes)
            {
                RunSpace(options, report, rng, space++, model, before, probes, log);
                report.Spaces++;
            }
        }
        finally
        {
            NativeMemory.AlignedFree(model);
            NativeMemory.AlignedFree(before);
        }
        report.Elapsed = clock.Elapsed;
        return report;
    }

    private static void RunSpace(DifferentialOptions options, DifferentialReport report, Random rng, int spaceIndex, byte* model, byte* before, Probe[] probes, Action<string>? log)
    {
        using var machine = new GuestMachine(PageFaultMode.RecordAndSkip, options.Extras);
        report.Features ??= machine.Features;
        var space = RandomAddressSpace.Build(machine, rng);
        var modelSpace = new AddressSpace(new GuestMemoryTableSource(model, GuestLayout.Tables, TablesSize));
        if (modelSpace.Root != machine.Space.Root)
            throw new InvalidOperationException("the model's root table is not at the guest's CR3");
        byte* real = machine.Memory.At(GuestLayout.Tables, TablesSize);
        int used = (int)(machine.TableSource.TablesInUse * 4096);
        log?.Invoke($"space {spaceIndex}: {space.Leaves.Count} leaves, {space.Holes.Count} holes, {space.ReservedBitEntries} reserved-bit entries, {machine.TableSource.TablesInUse} tables");

        for (int batch = 0; batch < options.BatchesPerSpace && report.Probes < options.Probes; batch++)
        {
            var cpu = RandomCpu(rng, machine.Features);
            int n = (int)Math.Min(options.ProbesPerBatch, options.Probes - report.Probes);
            for (int i = 0; i < n; i++)
                probes[i] = space.NextProbe();

            space.ShuffleAccessedDirty();
            machine.Vm.ShadowZapAll(); // the host just edited the tables behind KVM's back
            Buffer.MemoryCopy(real, model, used, used);
            Buffer.MemoryCopy(real, before, used, used);

            long faultsBefore = report.Faults, reservedBefore = report.ReservedFaults, mismatchesBefore = report.MismatchCount;
            var at = new BatchAt(spaceIndex, batch, cpu);
            if (!RunProbes(machine, options, report, at, probes.AsSpan(0, n), modelSpace, va => PathOf(machine.Space, va, real)))
                return; // the VM's state is unknown: start a new space
            CompareTables(report, spaceIndex, batch, cpu, GuestLayout.Tables, (ulong*)real, (ulong*)model, (ulong*)before, used / 8);
            log?.Invoke($"  batch {batch} {Mismatch.Describe(cpu)}: {n} probes, {report.Faults - faultsBefore} faults ({report.ReservedFaults - reservedBefore} reserved-bit), {report.MismatchCount - mismatchesBefore} mismatches");
        }
    }

    /// <summary>Where a batch ran: the space, the batch and the CPU mode (for its mismatches).</summary>
    internal readonly record struct BatchAt(int Space, int Batch, CpuMode Cpu);

    /// <summary>
    /// One KVM_RUN of the probes in the batch's mode (<paramref name="cr3"/>: the guest's own
    /// root), then each probe's outcome against <paramref name="model"/>'s walk. False when the
    /// run itself went wrong (recorded): the VM's state is unknown, the caller starts a new space.
    /// </summary>
    internal static bool RunProbes(GuestMachine machine, DifferentialOptions options, DifferentialReport report, BatchAt at,
        ReadOnlySpan<Probe> probes, AddressSpace model, Func<ulong, string> pathOf, ulong? cr3 = null)
    {
        var cpu = at.Cpu;
        int n = probes.Length;
        ulong ip = ProbeProgram.Emit(machine.Memory, probes, cpu.User);
        var exit = machine.Start(cpu, ip, options.RunLimit, cr3: cr3);
        report.Batches++;
        report.Probes += n;
        if (!cpu.User)
            report.SupervisorProbes += n;
        if (!exit.IsOutTo(GuestLayout.PortDone) || exit.Value != (uint)n)
        {
            report.Add(new Mismatch(MismatchKind.Run, at.Space, at.Batch, cpu, -1, default, "OUT to the done port", exit.Describe()));
            return false;
        }
        var modelCpu = machine.Model(cpu);
        if (options.ModelOverride is { } tweak)
            modelCpu = tweak(modelCpu);
        for (int i = 0; i < n; i++)
        {
            var p = probes[i];
            var expected = model.Translate(p.Address, p.Access, modelCpu, options.ModelSetsAccessedDirty);
            var actual = ProbeProgram.Outcome(machine.Memory, i);
            if (actual.Faulted)
            {
                report.Faults++;
                if ((actual.ErrorCode & PageFaultError.Reserved) != 0)
                    report.ReservedFaults++;
            }
            if (expected.OutsideGuestMemory)
            {
                report.Add(new Mismatch(MismatchKind.Outcome, at.Space, at.Batch, cpu, i, p,
                    $"outside guest memory (table 0x{expected.PhysicalAddress:X}, level {expected.FaultLevel})", actual.ToString(), pathOf(p.Address)));
                continue;
            }
            var want = expected.Success ? ProbeOutcome.Success : new ProbeOutcome(true, expected.ErrorCode, p.Address);
            if (want != actual)
                report.Add(new Mismatch(MismatchKind.Outcome, at.Space, at.Batch, cpu, i, p, want.ToString(), actual.ToString(), pathOf(p.Address)));
        }
        return true;
    }

    /// <summary>Every entry of table RAM at <paramref name="basePa"/> as the vCPU left it against FastPT's model; counts the A/D bits the vCPU set.</summary>
    internal static void CompareTables(DifferentialReport report, int space, int batch, in CpuMode cpu, ulong basePa, ulong* real, ulong* model, ulong* before, int count)
    {
        for (int i = 0; i < count; i++)
        {
            report.TableEntriesCompared++;
            ulong r = real[i], m = model[i];
            report.AccessedDirtyChanges += (long)ulong.PopCount((r & ~before[i]) & (Pte.Accessed | Pte.Dirty));
            if (r != m)
            {
                ulong pa = basePa + (ulong)i * 8;
                report.Add(new Mismatch(MismatchKind.TableEntry, space, batch, cpu, -1, default, m.ToString("X"), r.ToString("X"),
                    $"entry at guest-physical 0x{pa:X} (table 0x{pa & ~0xFFFUL:X} index {(pa & 0xFFF) / 8}), differing bits 0x{r ^ m:X}"));
            }
        }
    }

    /// <summary>The entries on va's path (as KVM left them) for a mismatch report.</summary>
    private static string PathOf(AddressSpace space, ulong va, byte* real)
    {
        var parts = new List<string>();
        ulong table = space.Root;
        for (int level = space.Levels; level >= 1; level--)
        {
            ulong pa = table + (ulong)AddressSpace.Index(va, level) * 8;
            if (pa < GuestLayout.Tables || pa >= GuestLayout.TablesEnd)
                break;
            ulong now = *(ulong*)(real + (pa - GuestLayout.Tables));
            parts.Add($"L{level}@0x{pa:X}=0x{now:X}");
            if ((now & Pte.Present) == 0 || AddressSpace.IsLeaf(now, level))
                break;
            table = now & Pte.PfnMask;
        }
        return "path after the run: " + string.Join(" ", parts);
    }

    internal static CpuMode RandomCpu(Random rng, GuestCpuFeatures f) => new(
        User: rng.Next(100) < 60,
        WriteProtect: rng.Next(100) < 70,
        Nxe: rng.Next(100) < 80,
        Smep: f.Smep && rng.Next(2) == 0,
        Smap: f.Smap && rng.Next(2) == 0,
        AlignmentCheck: rng.Next(2) == 0);
}
