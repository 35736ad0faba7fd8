using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Kernels;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Operations;

/// <summary>
/// Huge leaves (2 MiB and 1 GiB) that a range covers entirely take the op's Huge path, not a
/// split: change protection writes the pmd/pud rule's value back, zap clears them. Every
/// kind of huge entry (dirty, clean, read-only, PROT_NONE, a migration entry), exclusive and
/// shared tables, and shared tables against <see cref="RacingTables"/> (a walker sets A/D right
/// before the commit: it must survive, and the commit must go through the write mode).
/// </summary>
public unsafe class CoveredHugeTests
{
    private const ulong Base2M = 0x40_0000_0000;  // 256 GiB: one PD of 2 MiB leaves
    private const ulong Base1G = 0x80_0000_0000;  // 512 GiB: one PDPT of 1 GiB leaves
    private const int Leaves = 6;

    /// <summary>The leaves: dirty writable, clean writable, clean read-only, PROT_NONE, uffd-wp protected, a THP migration entry.</summary>
    private static ulong[] LeafValues(int level)
    {
        ulong size = level == 2 ? 1UL << 21 : 1UL << 30;
        ulong pa = 1UL << 40;
        ulong Leaf(int i, ulong flags) => pa + (ulong)i * size | flags | Pte.PageSize;
        var protNone = ChangeProtectionParams.Mprotect(PgProt.None, writable: false, shared: false);
        return
        [
            Leaf(0, Pte.Present | Pte.Writable | Pte.User | Pte.Dirty | Pte.NoExecute),
            Leaf(1, Pte.Present | Pte.Writable | Pte.User | Pte.NoExecute),
            Leaf(2, Pte.Present | Pte.User | Pte.NoExecute),
            ChangeProtectionRule.ApplyHuge(Leaf(3, Pte.Present | Pte.Writable | Pte.User | Pte.Accessed), protNone, level),
            Leaf(4, Pte.Present | Pte.User | Pte.UffdWp | Pte.SavedDirty | Pte.Accessed),
            SwapEntry.Make(ChangeProtectionRule.MigrationWrite, 0x12345),
        ];
    }

    private static (NativeTableSource, AddressSpace, ulong start, ulong end) Build(int level)
    {
        var tables = new NativeTableSource();
        var space = new AddressSpace(tables);
        ulong size = level == 2 ? 1UL << 21 : 1UL << 30;
        ulong start = level == 2 ? Base2M : Base1G;
        ulong[] values = LeafValues(level);
        for (int i = 0; i < Leaves; i++)
        {
            ulong va = start + (ulong)i * size;
            space.Map(va, 1UL << 40, level == 2 ? PageSize.Size2M : PageSize.Size1G, PgProt.Shared);
            space.Entry(va, level) = values[i];
        }
        return (tables, space, start, start + Leaves * size);
    }

    public static TheoryData<int, int, string> Cases()
    {
        var d = new TheoryData<int, int, string>();
        foreach (int level in new[] { 2, 3 })
            for (int p = 0; p < ProtectParams.Length + 2; p++)
                foreach (string mode in new[] { "exclusive", "shared", "racing" })
                    d.Add(level, p, mode);
        return d;
    }

    private static readonly ChangeProtectionParams[] ProtectParams =
    [
        ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: false),
        new(PgProt.Shared, ChangeProtectionFlags.UffdWpResolve | ChangeProtectionFlags.TryChangeWritable, false, true, false, true),
        ChangeProtectionParams.Mprotect(PgProt.ReadOnly, writable: false, shared: false),
        ChangeProtectionParams.Mprotect(PgProt.None, writable: false, shared: false),
        ChangeProtectionParams.Mprotect(PgProt.Shared, writable: true, shared: false),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void CoveredHugeLeavesAreRewrittenInPlace(int level, int paramIndex, string mode)
    {
        var (tables, space, start, end) = Build(level);
        using var ownedTables = tables;
        using var ownedSpace = space;
        ulong size = level == 2 ? 1UL << 21 : 1UL << 30;
        var before = new ulong[Leaves];
        for (int i = 0; i < Leaves; i++)
            before[i] = space.Entry(start + (ulong)i * size, level);
        var slot0 = space.TryGetEntry(start, level);
        RacingTables.Forget(slot0, Leaves);
        bool zap = paramIndex >= ProtectParams.Length;
        var zp = paramIndex == ProtectParams.Length ? ZapParams.Unmap : ZapParams.DontNeed;
        var flush = new FlushPlan();
        long tablesBefore = tables.TablesInUse;

        WalkResult r;
        if (zap)
        {
            r = mode switch
            {
                "exclusive" => PageTableOps.Zap(space, start, end, zp, flush),
                "shared" => PageTableOps.Zap(space, start, end, zp, flush, new WalkOptions { SharedTables = true }),
                _ => Walk(space, start, end, new ZapOp<RacingTables>(zp, freeTables: true), flush),
            };
        }
        else
        {
            var p = ProtectParams[paramIndex];
            r = mode switch
            {
                "exclusive" => PageTableOps.ChangeProtection(space, start, end, p, flush),
                "shared" => PageTableOps.ChangeProtection(space, start, end, p, flush, new WalkOptions { SharedTables = true }),
                _ => Walk(space, start, end, new ChangeProtectionOp<RacingTables>(p, splitHuge: false), flush),
            };
        }

        // Expected, from the huge-leaf rules on what the racing walker left (nothing, outside "racing").
        var expectedFlush = new FlushPlan();
        long expectedChanged = 0;
        long pages = level == 2 ? 512 : 512 * 512;
        for (int i = 0; i < Leaves; i++)
        {
            ulong old = before[i];
            bool present = LinuxPte.IsPmdPresent(old);
            ulong Rule(ulong e) => zap ? 0
                : present ? ChangeProtectionRule.ApplyHuge(e, ProtectParams[paramIndex], level)
                : ChangeProtectionRule.Apply(e, ProtectParams[paramIndex], out _);
            ulong seen = mode == "racing" && Rule(old) != old ? RacingTables.WalkerWrite(old) : old;
            ulong want = Rule(seen);
            ulong va = start + (ulong)i * size;
            ulong now = space.Entry(va, level);
            Assert.True(want == now, $"{mode} level {level} leaf {i}: 0x{old:X} should become 0x{want:X}, is 0x{now:X}");
            if (zap ? present : present || want != seen)
                expectedChanged += pages;
            // Zap flushes every present leaf, PROT_NONE included (mmu_gather); change protection by pte_needs_flush.
            if (zap ? present : present && FlushRules.NeedsFlush(seen, want))
                expectedFlush.Add(va, va + size);
        }
        Assert.Equal(WalkStatus.Complete, r.Status);
        Assert.Equal(expectedChanged, r.EntriesChanged);
        Assert.Equal(0, r.HugeSplits);
        Assert.Equal(tablesBefore, tables.TablesInUse);
        Assert.Equal(expectedFlush.Ranges.ToArray(), flush.Ranges.ToArray());
        if (mode == "racing")
            RacingTables.AssertEveryChangeCommitted($"huge level {level} {(zap ? "zap" : "change protection")}", before, slot0);
        Assert.True(space.Verify().IsValid, space.Verify().ToString());
    }

    private static WalkResult Walk<TOp>(AddressSpace space, ulong start, ulong end, TOp op, FlushPlan flush)
        where TOp : struct, ILeafOp => RangeWalker.Walk(space, start, end, ref op, flush);

    [Fact]
    public void TheModelWriteProtectsAWholeThpInPlace()
    {
        // UFFDIO_WRITEPROTECT over an anonymous THP it covers: the pmd keeps its size and takes
        // bit 10 (change_huge_pmd), so the next write is a uffd-wp fault; resolving writes it back.
        const ulong va = 0x7F00_0000_0000;
        using var mm = new FastPT.Uffd.MemoryModel();
        var flush = new FlushPlan();
        mm.Map(va, 1UL << 21, FastPT.Uffd.Backing.Anon, FastPT.Uffd.MemoryProtection.ReadWrite, hugePageHint: true);
        Assert.Equal(FastPT.Uffd.AccessOutcome.Completed, mm.Access(va + 0x10, write: true, flush).Outcome);
        ulong thp = mm.Space.Entry(va, 2);
        Assert.True((thp & Pte.PageSize) != 0 && (thp & Pte.Writable) != 0, $"not a writable THP: 0x{thp:X}");
        mm.RegisterWriteProtect(va, 1UL << 21, new FlushPlan());
        flush.Clear();
        var r = mm.WriteProtect(va, 1UL << 21, protect: true, flush);
        Assert.Equal(512, r.EntriesChanged);
        Assert.Equal(0, r.HugeSplits);
        Assert.Equal(LinuxPte.MkUffdWp(thp), mm.Space.Entry(va, 2));
        Assert.Equal([new FlushRange(va, va + (1UL << 21))], flush.Ranges.ToArray());
        Assert.Equal(FastPT.Uffd.AccessOutcome.WriteProtectFault, mm.Access(va + 0x5000, write: true, flush).Outcome);
        mm.WriteProtect(va, 1UL << 21, protect: false, flush);
        Assert.Equal(0UL, mm.Space.Entry(va, 2) & Pte.UffdWp);
        Assert.Equal(FastPT.Uffd.AccessOutcome.Completed, mm.Access(va + 0x5000, write: true, flush).Outcome);
        mm.Space.Verify().ThrowIfInvalid();
    }

    [Fact]
    public void HandComputedHugeLeaves()
    {
        // A dirty writable 2 MiB leaf (P|RW|US|A|D|PS, NX) write-protected by uffd-wp: bit 10 set, RW
        // cleared, D moved to saved-dirty (bit 58), PS and the frame kept.
        ulong huge = 0x8000_0000_4000_00E7;
        var wp = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: false);
        foreach (int level in new[] { 2, 3 })
        {
            var (tables, space, start, _) = Build(level);
            using (tables)
            using (space)
            {
                ulong size = level == 2 ? 1UL << 21 : 1UL << 30;
                space.Entry(start, level) = huge;
                var flush = new FlushPlan();
                var r = PageTableOps.ChangeProtection(space, start, start + size, wp, flush);
                Assert.Equal(0x8400_0000_4000_04A5UL, space.Entry(start, level));
                Assert.Equal(level == 2 ? 512 : 512 * 512, r.EntriesChanged);
                Assert.Equal([new FlushRange(start, start + size)], flush.Ranges.ToArray());
                // A clean writable leaf: RW cleared alone still flushes (pte_needs_flush: RW changed).
                space.Entry(start, level) = 0x8000_0000_4000_00A7;
                flush.Clear();
                PageTableOps.ChangeProtection(space, start, start + size, wp, flush, new WalkOptions { SharedTables = true });
                Assert.Equal(0x8000_0000_4000_04A5UL, space.Entry(start, level));
                Assert.Equal([new FlushRange(start, start + size)], flush.Ranges.ToArray());
            }
        }
    }
}
