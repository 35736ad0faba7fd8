using System.Buffers.Binary;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Memory;
using FastPT.Tests.Paging;
using FastPT.Tlb;
using FastPT.Walk;

namespace FastPT.Fuzz.Targets;

/// <summary>
/// Walks over page tables a guest wrote: the input is guest RAM (three guard-paged regions with
/// holes between them, one ending at 2^52) holding whatever entries it says, a CR3, and a list of
/// operations on the attached space (Translate single and batch, the software TLB, the range
/// verbs with shared tables and two threads, Verify, loading another root). Guest tables are
/// untrusted input, so the contract is: no crash, no hang, no byte touched outside guest RAM (a
/// guard page kills the run), every Translate is the reference walk's outcome
/// (tests/FastPT.Tests/Paging/ReferenceWalk.cs) and changes guest RAM only by the A/D bits that
/// walk predicts, the TLB and the batch walk answer as single walks do, and every range verb
/// stops inside its range with its flushes inside what it walked. The format is in
/// docs/fuzzing.md ("The guest-tables input").
/// </summary>
internal static unsafe class GuestTablesTarget
{
    /// <summary>Guest RAM: guest-physical base and 4 KiB pages of each region (holes between; the last ends at 2^52).</summary>
    public static readonly (ulong GuestPhysical, int Pages)[] Layout =
    [
        (0x10_0000, 8),
        (0x80_0000, 8),
        (GuestMemoryMap.MaxGuestPhysical - 4 * 4096, 4),
    ];

    /// <summary>Guest-physical addresses outside guest RAM a link may name: holes, next to a region (a guard page on the host), 0, the top.</summary>
    private static readonly ulong[] Holes =
    [
        0, 0x10_0000 - 4096, 0x10_0000 + 8 * 4096, 0x40_0000, 0x80_0000 - 4096, 0x80_0000 + 8 * 4096,
        0x1_0000_0000, GuestMemoryMap.MaxGuestPhysical - 5 * 4096, 0x000F_FFFF_FFFF_F000 - 4 * 4096, 0x0008_0000_0000_0000,
    ];

    private const int HeaderBytes = 4, WriteBytes = 8, OpBytes = 14;
    private const int MaxOps = 64;

    /// <summary>Guest-physical address of guest page <paramref name="index"/> (all regions in order).</summary>
    public static ulong Page(int index)
    {
        foreach (var (gpa, pages) in Layout)
        {
            if (index < pages)
                return gpa + (ulong)index * 4096;
            index -= pages;
        }
        throw new ArgumentOutOfRangeException(nameof(index));
    }

    public static int Pages => Layout.Sum(r => r.Pages);

    public static void Run(byte[] input)
    {
        if (input.Length < HeaderBytes)
            return;
        using var memory = new GuardedGuestMemory(Layout);
        var data = new ReadOnlySpan<byte>(input);

        // Header: [config] [root page] [cr3 low bits, 2 bytes].
        byte config = data[0];
        int levels = (config & 1) != 0 ? 5 : 4;
        int poolPages = ((config >> 1) & 3) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        ulong cr3 = Page(data[1] % Pages) | (BinaryPrimitives.ReadUInt16LittleEndian(data[2..]) & 0xFFFUL) | ((config & 8) != 0 ? 1UL << 63 : 0);
        data = data[HeaderBytes..];

        // Entry writes: [count] then count records.
        int writes = data.Length > 0 ? data[0] : 0;
        data = data.Length > 0 ? data[1..] : data;
        for (int w = 0; w < writes && data.Length >= WriteBytes; w++, data = data[WriteBytes..])
            Write(memory, data[..WriteBytes]);

        // FastPT's own tables (markers' tables, splits) come from the last pages of the second region.
        ulong poolBase = Layout[1].GuestPhysical + (ulong)(Layout[1].Pages - poolPages) * 4096;
        var source = new GuestMemoryTableSource(memory.Map, poolBase, (ulong)poolPages * 4096);
        var space = AddressSpace.Attach(source, cr3, levels);
        var tlb = new SoftwareTlb(space, CpuMode.Supervisor, entriesPerMode: 16);
        var flush = new FlushPlan();
        var state = new State(memory, space, tlb, flush);

        for (int o = 0; o < MaxOps && data.Length >= OpBytes; o++, data = data[OpBytes..])
            state.Run(data[..OpBytes], o);
    }

    /// <summary>
    /// One entry write: [page | slot bit 8 (0x20) | fill (0x40) | consecutive frames (0x80)]
    /// [slot] [flags, 2 bytes] [target] [extra, 3 bytes]. Flags 0..11 are the entry's bits 0..11;
    /// 12 = XD; 13 = an address bit a small MAXPHYADDR reserves; 14 = a bit a large leaf reserves;
    /// 15 = a protection key. Target &lt; 0xE0: a page of guest RAM (plus extra's frames, for
    /// leaves); 0xE0..0xEF: an address outside guest RAM; 0xF0..: any frame (extra).
    /// A fill writes the slot and every one after it in the page, the frame counting up with
    /// "consecutive" (a run of leaves) or not (every entry the same link).
    /// </summary>
    private static void Write(GuardedGuestMemory memory, ReadOnlySpan<byte> r)
    {
        int page = (r[0] & 0x1F) % Pages;
        int slot = r[1] | ((r[0] & 0x20) << 3);
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(r[2..]);
        byte target = r[4];
        uint extra = r[5] | ((uint)r[6] << 8) | ((uint)r[7] << 16);
        ulong address = target switch
        {
            < 0xE0 => Page(target % Pages) + ((ulong)(extra >> 8) << 12),
            < 0xF0 => Holes[(target - 0xE0) % Holes.Length],
            _ => ((ulong)extra << 12) | ((ulong)(target & 15) << 36),
        };
        ulong e = (address & Pte.PfnMask) | (flags & 0xFFFUL);
        if ((flags & 0x1000) != 0)
            e |= Pte.NoExecute;
        if ((flags & 0x2000) != 0)
            e |= 1UL << (36 + (int)(extra & 15));
        if ((flags & 0x4000) != 0)
            e |= 1UL << (13 + (int)(extra % 17));
        if ((flags & 0x8000) != 0)
            e |= (ulong)(extra & 15) << Pte.PkeyShift;
        ulong* table = memory.Map.TryPage(Page(page));
        bool fill = (r[0] & 0x40) != 0, consecutive = (r[0] & 0x80) != 0;
        int last = fill ? 511 : slot;
        for (int i = slot; i <= last; i++)
            table[i] = consecutive ? e + ((ulong)(i - slot) << 12) : e;
    }

    /// <summary>The attached space, its TLB and the checks between operations.</summary>
    private sealed class State(GuardedGuestMemory memory, AddressSpace space, SoftwareTlb tlb, FlushPlan flush)
    {
        private readonly ulong[] _before = new ulong[Pages * 512], _after = new ulong[Pages * 512];

        /// <summary>
        /// One operation: [op] [walk flags] [cpu mode, 2 bytes] [address, 8 bytes] [length, 2 bytes].
        /// Walk flags: 1 = two threads, 2 = shared tables, 4 = a page budget, 8/16 = access type,
        /// 32/64/128 = the verb's own choices. Length: pages, times 64 with walk flag 128 on a range verb.
        /// </summary>
        public void Run(ReadOnlySpan<byte> r, int index)
        {
            byte op = r[0], walk = r[1];
            CpuMode cpu = Mode(r[2], r[3]);
            var access = (AccessType)(((walk >> 3) & 3) % 3);
            ulong va = Canonical(BinaryPrimitives.ReadUInt64LittleEndian(r[4..]));
            int count = BinaryPrimitives.ReadUInt16LittleEndian(r[12..]);
            string what = $"op {index} ({op % 11}) at 0x{va:X}";
            switch (op % 11)
            {
                case 0:
                    TranslateOne(va, access, cpu, what);
                    break;
                case 1:
                    TranslateBatch(Addresses(va, count), access, cpu, what, useTlb: false);
                    break;
                case 2:
                case 3:
                    TranslateBatch(Addresses(va, op % 11 == 2 ? 1 : count), access, cpu, what, useTlb: true, single: (walk & 32) != 0);
                    break;
                case 4:
                    // Another root (a guest's MOV to CR3): a root outside guest RAM is refused, changing nothing.
                    ulong cr3 = Page((int)(va % (ulong)Pages)) | (va >> 52 & 0xFFF);
                    if ((walk & 32) != 0)
                        cr3 = Holes[(int)(va % (ulong)Holes.Length)];
                    try
                    {
                        space.LoadRoot(cr3);
                    }
                    catch (ArgumentOutOfRangeException e)
                    {
                        if (memory.Map.Contains(cr3 & AddressSpace.Cr3RootMask))
                            throw new ContractViolation($"{what}: a root inside guest RAM was refused: {e.Message}");
                        Contract.ClearMessage(e.Message, "CR3");
                        break;
                    }
                    tlb.WriteCr3(cr3);
                    tlb.FlushAll(); // global entries may stay across a CR3 write; the checks compare with fresh walks
                    break;
                case 10:
                    var v = space.Verify();
                    if (v.Problems.Count > 100)
                        throw new ContractViolation($"{what}: Verify listed {v.Problems.Count} problems, over its limit");
                    foreach (string p in v.Problems)
                        if (p.Contains('\n', StringComparison.Ordinal))
                            throw new ContractViolation($"{what}: a Verify problem spans lines: {p}");
                    break;
                default:
                    RangeVerb(op % 11, walk, va, count, what);
                    break;
            }
        }

        private static CpuMode Mode(byte a, byte b) => new(
            User: (a & 1) != 0, WriteProtect: (a & 2) != 0, Nxe: (a & 4) != 0, Smep: (a & 8) != 0,
            Smap: (a & 16) != 0, AlignmentCheck: (a & 32) != 0, ProtectionKeys: (a & 64) != 0, Pages1G: (a & 128) != 0,
            Pkru: (uint)(b >> 3) * 0x0842_1085u,
            MaxPhysicalAddressBits: (b & 3) switch { 0 => 52, 1 => 48, 2 => 40, _ => 36 },
            NonLeafBit8Reserved: (b & 4) != 0);

        private ulong Canonical(ulong va)
        {
            int bits = 12 + 9 * space.Levels;
            return (ulong)((long)(va << (64 - bits)) >> (64 - bits));
        }

        /// <summary>Up to 32 addresses from va on, some repeated (repeats hit the TLB).</summary>
        private ulong[] Addresses(ulong va, int count)
        {
            var vas = new ulong[1 + (count & 31)];
            ulong stride = (ulong)(count >> 5) << 12;
            for (int i = 0; i < vas.Length; i++)
                vas[i] = Canonical(i % 3 == 2 ? vas[i / 2] ^ (ulong)(i * 0x18) : va + (ulong)i * stride);
            return vas;
        }

        private void TranslateOne(ulong va, AccessType access, CpuMode cpu, string what)
        {
            Snapshot(_before);
            var expected = Expect(va, access, cpu);
            var actual = space.Translate(va, access, cpu);
            if (Mismatch(expected, actual) is { } m)
                throw new ContractViolation($"{what}: Translate({access}, {cpu}): {m}");
            Predict(expected, access);
            CheckRam(what);
        }

        private void TranslateBatch(ulong[] vas, AccessType access, CpuMode cpu, string what, bool useTlb, bool single = false)
        {
            Snapshot(_before);
            var expected = new ReferenceWalk.Outcome[vas.Length];
            for (int i = 0; i < vas.Length; i++)
                expected[i] = Expect(vas[i], access, cpu); // A/D never change an outcome, so the walks before the batch predict it
            var results = new TranslateResult[vas.Length];
            if (!useTlb)
            {
                space.Translate(vas, access, cpu, results);
            }
            else
            {
                tlb.Mode = cpu;
                if (single)
                    for (int i = 0; i < vas.Length; i++)
                        results[i] = tlb.Translate(vas[i], access);
                else
                    tlb.Translate(vas, access, results);
            }
            for (int i = 0; i < vas.Length; i++)
            {
                if (Mismatch(expected[i], results[i]) is { } m)
                    throw new ContractViolation($"{what}: {(useTlb ? "TLB" : "batch")} [{i}] 0x{vas[i]:X} {access} {cpu}: {m}");
                Predict(expected[i], access);
            }
            CheckRam(what);
        }

        private ReferenceWalk.Outcome Expect(ulong va, AccessType access, CpuMode cpu) =>
            ReferenceWalk.Run(Read, space.Root, space.Levels, va, access, cpu);

        private ulong? Read(ulong table, int index)
        {
            ulong* t = memory.Map.TryPage(table);
            return t == null ? null : t[index];
        }

        /// <summary>How a walk's result differs from the reference walk's outcome; null when it does not.</summary>
        private static string? Mismatch(ReferenceWalk.Outcome expected, TranslateResult actual)
        {
            if (expected.Outside != actual.OutsideGuestMemory)
                return $"outside guest memory expected {expected.Outside}, got {actual}";
            if ((expected.Ok, expected.Error, expected.FaultLevel) != (actual.Success, actual.ErrorCode, actual.FaultLevel))
                return $"expected ok={expected.Ok} error 0x{(uint)expected.Error:X} level {expected.FaultLevel}, got {actual}";
            if ((expected.Ok || expected.Outside) && expected.Pa != actual.PhysicalAddress)
                return $"address 0x{expected.Pa:X} expected, got {actual}";
            if (expected.Ok && expected.Size != actual.Size)
                return $"size {expected.Size} expected, got {actual}";
            return null;
        }

        /// <summary>A in every entry a successful walk used, D in its leaf on a write: into the expected snapshot.</summary>
        private void Predict(ReferenceWalk.Outcome expected, AccessType access)
        {
            if (!expected.Ok)
                return;
            for (int u = 0; u < expected.Used.Count; u++)
            {
                var (table, index) = expected.Used[u];
                _before[WordIndex(table) + index] |= Pte.Accessed | (u == expected.Used.Count - 1 && access == AccessType.Write ? Pte.Dirty : 0);
            }
        }

        private void CheckRam(string what)
        {
            Snapshot(_after);
            int diff = _before.AsSpan().CommonPrefixLength(_after);
            if (diff != _after.Length)
                throw new ContractViolation($"{what}: guest RAM word {diff} (page 0x{Page(diff / 512):X} slot {diff % 512}) expected 0x{(diff < _after.Length ? _before[diff] : 0):X}, got 0x{(diff < _after.Length ? _after[diff] : 0):X}");
        }

        private void Snapshot(Span<ulong> into)
        {
            for (int i = 0; i < Layout.Length; i++)
            {
                memory.Region(i).CopyTo(into);
                into = into[(Layout[i].Pages * 512)..];
            }
        }

        private static int WordIndex(ulong table)
        {
            int at = 0;
            foreach (var (gpa, pages) in Layout)
            {
                if (table - gpa < (ulong)pages * 4096)
                    return at + (int)((table - gpa) / 8);
                at += pages * 512;
            }
            throw new ContractViolation($"a walk used table 0x{table:X}, which is not guest RAM");
        }

        /// <summary>Chunks after WalkEnd may have run: a walk on more than one thread that stopped.</summary>
        private static bool PastWalkEnd(WalkOptions options, WalkStatus status) =>
            options.Parallelism > 1 && status != WalkStatus.Complete;

        private void RangeVerb(int op, byte walk, ulong va, int count, string what)
        {
            ulong start = va & ~4095UL;
            ulong pages = (ulong)Math.Max(count, 1) << ((walk & 128) != 0 ? 6 : 0);
            ulong end = start < space.UserLimit
                ? Math.Min(start + pages * 4096, space.UserLimit)
                : start + Math.Min(pages * 4096, ulong.MaxValue - 4095 - start);
            if (end <= start)
                return; // the last page of the upper half: no range of it ends inside 2^64
            var options = new WalkOptions
            {
                Parallelism = (walk & 1) != 0 ? 2 : 0,
                SharedTables = (walk & 2) != 0,
                BudgetPages = (walk & 4) != 0 ? 1 + count % 4096 : 0,
            };
            bool choice = (walk & 32) != 0, choice2 = (walk & 64) != 0;
            flush.Clear();
            long tablesBefore = space.Tables.TablesInUse;
            ulong walkEnd;
            int splits = 0;
            WalkStatus status;
            switch (op)
            {
                case 5:
                    var p = choice2 ? ChangeProtectionParams.UffdUnprotect(PgProt.Shared) : ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: choice);
                    var cp = PageTableOps.ChangeProtection(space, start, end, p, flush, options, splitHuge: choice && choice2);
                    (walkEnd, splits, status) = (cp.WalkEnd, cp.HugeSplits, cp.Status);
                    break;
                case 6:
                    var m = PageTableOps.ChangeProtection(space, start, end,
                        ChangeProtectionParams.Mprotect(choice2 ? PgProt.Shared : PgProt.None, writable: choice, shared: choice2), flush, options);
                    (walkEnd, splits, status) = (m.WalkEnd, m.HugeSplits, m.Status);
                    break;
                case 7:
                    var z = PageTableOps.Zap(space, start, end, choice ? ZapParams.DontNeedFileUffdWp : ZapParams.Unmap, flush, options);
                    (walkEnd, splits, status) = (z.WalkEnd, z.HugeSplits, z.Status);
                    if (z.TablesFreed != 0)
                        throw new ContractViolation($"{what}: a zap freed {z.TablesFreed} of the guest's tables");
                    break;
                case 8:
                    int words = (int)((end - start) / 4096 + 63) / 64;
                    var bitmap = new ulong[words + 1];
                    bitmap[^1] = 0x5A5A_5A5A_5A5A_5A5A; // past the range: must stay as it is
                    var h = PageTableOps.Harvest(space, start, end, bitmap, choice ? HarvestBit.Accessed : HarvestBit.Dirty, flush, options,
                        choice2 ? HarvestFlags.SplitPartialHuge : HarvestFlags.None);
                    (walkEnd, splits, status) = (h.WalkEnd, h.HugeSplits, h.Status);
                    if (bitmap[^1] != 0x5A5A_5A5A_5A5A_5A5A)
                        throw new ContractViolation($"{what}: harvest wrote past its bitmap's range");
                    ulong inRange = (end - start) / 4096, tail = inRange % 64;
                    if (tail != 0 && bitmap[words - 1] >> (int)tail != 0)
                        throw new ContractViolation($"{what}: harvest set bits for pages past the range end");
                    for (ulong k = (PastWalkEnd(options, h.Status) ? end - start : walkEnd - start) / 4096; k < inRange; k++)
                        if ((bitmap[k / 64] >> (int)(k % 64) & 1) != 0)
                            throw new ContractViolation($"{what}: harvest reported page 0x{start + k * 4096:X}, past where it stopped (0x{walkEnd:X})");
                    break;
                default:
                    var regions = new PageRegion[count % 17];
                    var request = new PagemapScanRequest(Mask: choice ? PageCategories.Written : PageCategories.None,
                        MaxPages: choice2 ? count % 300 : 0, WriteProtectMatching: choice && choice2);
                    var s = PageTableOps.Scan(space, start, end, request, regions, flush, new ScanContext(HoleIsWritten: choice), options.SharedTables);
                    (walkEnd, splits, status) = (s.WalkEnd, request.WriteProtectMatching ? 1 : 0, s.Status); // a partly kept huge leaf is split
                    if (!(s.RegionCount >= 0 && s.RegionCount <= regions.Length))
                        throw new ContractViolation($"{what}: scan reported {s.RegionCount} regions into a buffer of {regions.Length}");
                    ulong previous = start;
                    for (int i = 0; i < s.RegionCount; i++)
                    {
                        var g = regions[i];
                        if (!(g.Start >= previous && g.Start < g.End && g.End <= walkEnd))
                            throw new ContractViolation($"{what}: scan region {i} [0x{g.Start:X}, 0x{g.End:X}) is not after the last one inside [0x{start:X}, 0x{walkEnd:X})");
                        previous = g.End;
                    }
                    break;
            }
            if (!(walkEnd >= start && walkEnd <= end))
                throw new ContractViolation($"{what}: WalkEnd 0x{walkEnd:X} outside [0x{start:X}, 0x{end:X}) ({status})");
            // A split flushes all of its huge leaf (as Linux does): with splits the range may widen to
            // the leaves at either end, and to the leaf at WalkEnd (split in part before the walk
            // ran out of tables there: 1 GiB into 2 MiB leaves, then no table for the 4 KiB ones).
            // A parallel walk that stopped may have done chunks after WalkEnd (WalkOptions.Parallelism:
            // tables linked at two levels change under it); their flushes are in the plan.
            ulong done = PastWalkEnd(options, status) ? end : walkEnd;
            ulong lo = splits > 0 ? start & ~((1UL << 30) - 1) : start;
            ulong hi = splits > 0 ? (done | ((1UL << 30) - 1)) + 1 : done;
            // An End of 0 is the top of the address space (a split leaf at the top of the upper half).
            foreach (var f in flush.Ranges)
                if (f.End - 1 < f.Start || f.Start < lo || f.End - 1 > hi - 1)
                    throw new ContractViolation($"{what}: flush range [0x{f.Start:X}, 0x{f.End:X}) outside the walked [0x{start:X}, 0x{walkEnd:X}) ({splits} huge leaves split, {status})");
            if (space.Tables.TablesInUse < tablesBefore)
                throw new ContractViolation($"{what}: the table source lost tables (an attached space never frees the guest's)");
            // Aliased guest tables change translations outside the flushed range (as on hardware):
            // the TLB runs the plan, then starts afresh so later checks compare with fresh walks.
            tlb.Invalidate(flush);
            tlb.FlushAll();
        }
    }
}
