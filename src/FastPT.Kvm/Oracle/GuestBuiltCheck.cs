using System.Diagnostics;
using System.Runtime.InteropServices;
using FastPT.Entries;
using FastPT.Kvm.Guest;
using FastPT.Memory;
using FastPT.Paging;

namespace FastPT.Kvm.Oracle;

/// <summary>
/// Holds FastPT, attached to tables a guest built, to what the vCPU does on them. Per address
/// space a fresh VM with RAM in two slots (a hole between) and a random
/// <see cref="GuestBuiltSpace"/>. Per batch: guest kernel code stores the entries (all of
/// them first, then new A/D bits) and loads CR3; the VMM reads that CR3 back, copies the table
/// RAM as the guest left it into FastPT's model (a <see cref="GuestMemoryMap"/> of the same two
/// regions) and attaches there (<see cref="AddressSpace.Attach"/>); then a random CPU mode and
/// thousands of probes in one KVM_RUN. Outcomes, error codes, CR2 and every table entry after
/// the batch (A/D) must match. The host never edits the guest's tables.
/// </summary>
public static unsafe class GuestBuiltCheck
{
    // FastPT's system tables and the guest's low tables, contiguous; the guest's high tables.
    private const ulong LowBase = GuestLayout.Tables, LowBytes = GuestLayout.GuestTablesEnd - GuestLayout.Tables;
    private const ulong HighBase = GuestLayout.HighRam, HighBytes = GuestLayout.HighTablesEnd - GuestLayout.HighRam;

    public static DifferentialReport Run(DifferentialOptions options, Action<string>? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Probes);
        if (options.ProbesPerBatch is <= 0 or > GuestLayout.MaxProbesPerRun)
            throw new ArgumentOutOfRangeException(nameof(options), options.ProbesPerBatch, $"probes per batch must be 1..{GuestLayout.MaxProbesPerRun}");
        var report = new DifferentialReport { Options = options };
        var rng = new Random(options.Seed);
        var clock = Stopwatch.StartNew();
        var buffers = new Buffers();
        try
        {
            int space = 0;
            while (report.Probes < options.Probes)
            {
                RunSpace(options, report, rng, space++, buffers, log);
                report.Spaces++;
            }
        }
        finally
        {
            buffers.Dispose();
        }
        report.Elapsed = clock.Elapsed;
        return report;
    }

    /// <summary>FastPT's model of the table RAM (two regions, as in the guest) and a copy from before each batch.</summary>
    private sealed class Buffers : IDisposable
    {
        public readonly byte* ModelLow = (byte*)NativeMemory.AlignedAlloc((nuint)LowBytes, 4096);
        public readonly byte* ModelHigh = (byte*)NativeMemory.AlignedAlloc((nuint)HighBytes, 4096);
        public readonly byte* BeforeLow = (byte*)NativeMemory.AlignedAlloc((nuint)LowBytes, 4096);
        public readonly byte* BeforeHigh = (byte*)NativeMemory.AlignedAlloc((nuint)HighBytes, 4096);
        public readonly GuestMemoryTableSource Source;

        public Buffers()
        {
            var map = new GuestMemoryMap();
            map.Add(LowBase, LowBytes, ModelLow);
            map.Add(HighBase, HighBytes, ModelHigh);
            Source = new GuestMemoryTableSource(map); // no pool: FastPT only reads and sets A/D
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(ModelLow);
            NativeMemory.AlignedFree(ModelHigh);
            NativeMemory.AlignedFree(BeforeLow);
            NativeMemory.AlignedFree(BeforeHigh);
        }
    }

    private static void RunSpace(DifferentialOptions options, DifferentialReport report, Random rng, int spaceIndex, Buffers b, Action<string>? log)
    {
        using var machine = new GuestMachine(PageFaultMode.RecordAndSkip, options.Extras, highRam: true);
        report.Features ??= machine.Features;
        var space = GuestBuiltSpace.Build(rng, machine.Features, systemPml4e: machine.Space.RootTable[0]);
        report.GuestTables += space.Tables;
        report.GuestTablesAboveTheHole += space.HighTables;
        report.SharedLinks += space.SharedLinks;
        byte* realLow = machine.Memory.At(LowBase, LowBytes);
        byte* realHigh = machine.HighMemory!.At(0, HighBytes);
        ulong ReadGuest(ulong pa) => pa >= HighBase ? machine.HighMemory.U64(pa - HighBase) : machine.Memory.U64(pa);
        log?.Invoke($"space {spaceIndex}: {space.Leaves.Count} leaves, {space.Holes.Count} holes, {space.Tables} tables ({space.HighTables} above the hole), " +
            $"{space.SharedLinks} shared links, recursive slot {space.RecursiveSlot}, {space.ReservedBitEntries} reserved-bit entries, CR3 0x{space.Cr3:X}");

        var probes = new Probe[options.ProbesPerBatch];
        var stores = space.Stores.ToList();
        for (int batch = 0; batch < options.BatchesPerSpace && report.Probes < options.Probes; batch++)
        {
            if (batch > 0)
                stores = space.ShuffleAccessedDirty(ReadGuest);

            // The guest writes its tables and switches to them.
            ulong writer = TableWriterProgram.Emit(machine.Memory, stores, space.Cr3);
            var built = machine.Start(CpuMode.Supervisor, writer, options.RunLimit);
            if (!built.IsOutTo(GuestLayout.PortDone) || built.Value != (uint)stores.Count)
            {
                report.Add(new Mismatch(MismatchKind.Run, spaceIndex, batch, CpuMode.Supervisor, -1, default, $"the guest's {stores.Count} table stores and a CR3 load, then OUT to the done port", built.Describe()));
                return;
            }
            ulong cr3 = machine.Vcpu.GetSregs().Cr3;
            if (cr3 != space.Cr3)
            {
                report.Add(new Mismatch(MismatchKind.Run, spaceIndex, batch, CpuMode.Supervisor, -1, default, $"CR3 0x{space.Cr3:X} after the guest's MOV", $"CR3 0x{cr3:X}"));
                return;
            }

            // FastPT attaches to the guest's CR3 over a copy of the table RAM as the guest left it.
            Buffer.MemoryCopy(realLow, b.ModelLow, LowBytes, LowBytes);
            Buffer.MemoryCopy(realHigh, b.ModelHigh, HighBytes, HighBytes);
            Buffer.MemoryCopy(realLow, b.BeforeLow, LowBytes, LowBytes);
            Buffer.MemoryCopy(realHigh, b.BeforeHigh, HighBytes, HighBytes);
            using var model = AddressSpace.Attach(b.Source, cr3);

            var cpu = DifferentialCheck.RandomCpu(rng, machine.Features);
            int n = (int)Math.Min(options.ProbesPerBatch, options.Probes - report.Probes);
            for (int i = 0; i < n; i++)
            {
                probes[i] = space.NextProbe();
                if (space.RecursiveSlot >= 0 && AddressSpace.Index(probes[i].Address, 4) == space.RecursiveSlot)
                    report.RecursiveProbes++;
            }
            // The mode comes with KVM_SET_SREGS, which reloads CR3; the backend keeps shadow
            // translations made under the old mode anyway (EFER.NXE: ShadowPagesAcrossModeChanges),
            // so the VMM drops them, as the CR3 load does on a CPU (CR4.PGE is off: nothing is global).
            machine.Vm.ShadowZapAll();
            long faultsBefore = report.Faults, reservedBefore = report.ReservedFaults, mismatchesBefore = report.MismatchCount;
            var at = new DifferentialCheck.BatchAt(spaceIndex, batch, cpu);
            if (!DifferentialCheck.RunProbes(machine, options, report, at, probes.AsSpan(0, n), model, va => PathOf(cr3, va, ReadGuest), cr3))
                return; // the VM's state is unknown: start a new space
            DifferentialCheck.CompareTables(report, spaceIndex, batch, cpu, LowBase, (ulong*)realLow, (ulong*)b.ModelLow, (ulong*)b.BeforeLow, (int)(LowBytes / 8));
            DifferentialCheck.CompareTables(report, spaceIndex, batch, cpu, HighBase, (ulong*)realHigh, (ulong*)b.ModelHigh, (ulong*)b.BeforeHigh, (int)(HighBytes / 8));
            log?.Invoke($"  batch {batch} {Mismatch.Describe(cpu)}: {stores.Count} guest stores, {n} probes, {report.Faults - faultsBefore} faults ({report.ReservedFaults - reservedBefore} reserved-bit), {report.MismatchCount - mismatchesBefore} mismatches");
        }
    }

    /// <summary>The entries on va's path (as the vCPU left them) for a mismatch report.</summary>
    private static string PathOf(ulong cr3, ulong va, Func<ulong, ulong> read)
    {
        var parts = new List<string>();
        ulong table = cr3 & AddressSpace.Cr3RootMask;
        for (int level = 4; level >= 1; level--)
        {
            ulong pa = table + (ulong)AddressSpace.Index(va, level) * 8;
            bool ram = pa - LowBase < LowBytes || pa - HighBase < HighBytes;
            if (!ram)
            {
                parts.Add($"L{level}@0x{pa:X} (not table RAM)");
                break;
            }
            ulong now = read(pa);
            parts.Add($"L{level}@0x{pa:X}=0x{now:X}");
            if ((now & Pte.Present) == 0 || AddressSpace.IsLeaf(now, level))
                break;
            table = now & Pte.PfnMask;
        }
        return "path after the run: " + string.Join(" ", parts);
    }
}
