using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Memory;

/// <summary>
/// Every public operation that can allocate a table, under <see cref="FailureInjection"/>: each
/// allocation it makes is refused in turn, and the tables must stay sound (Verify) and reach the
/// no-failure result once retried. The list is data: a new verb is one more entry.
/// </summary>
public unsafe class FailureInjectionTests
{
    private const ulong A = 0x40_0000_0000; // 256 GiB
    private const ulong M2 = 1UL << 21, G1 = 1UL << 30;

    /// <summary>
    /// A raw space with a bit of everything near A: 4 KiB pages and markers, a dirty uffd-wp
    /// 2 MiB leaf, a clean 2 MiB leaf, empty 2 MiB slots, a 1 GiB leaf at A + 1 GiB.
    /// </summary>
    private static Injected Mixed(int levels)
    {
        var f = Injected.Raw(levels);
        var s = f.Space;
        for (ulong k = 0; k < 24; k++)
        {
            ulong va = A + k * 0x1000;
            s.Map(va, (1UL << 40) + k * 0x1000, PageSize.Size4K, k % 3 == 0 ? PgProt.Shared | Pte.Dirty : PgProt.ReadOnly);
            if (k % 5 == 4)
                s.Entry(va, 1) = PteMarker.UffdWp;
        }
        s.Map(A + M2, 2UL << 40, PageSize.Size2M, PgProt.Shared | Pte.Dirty | Pte.UffdWp);
        s.Map(A + 2 * M2, 3UL << 40, PageSize.Size2M, PgProt.Shared);
        s.Map(A + G1, 4UL << 40, PageSize.Size1G, PgProt.Shared | Pte.Dirty);
        return f;
    }

    /// <summary>Ranges over <see cref="Mixed"/>: (name, start, end).</summary>
    private static IEnumerable<(string, ulong, ulong)> Ranges(int levels)
    {
        yield return ("4K pages, covered 2M leaves, empty 2M slots", A + 0x3000, A + 6 * M2 + 0x5000);
        yield return ("into a 1G leaf and out of a 2M one inside it", A + G1 - 0x2000, A + G1 + M2 + 0x3000);
        yield return ("across the 512 GiB boundary", (1UL << 39) - 0x2000, (1UL << 39) + 0x2000);
        if (levels == 5)
            yield return ("across the 256 TiB boundary", (1UL << 48) - 0x2000, (1UL << 48) + 0x2000);
    }

    private static IEnumerable<InjectedOp> RawOps()
    {
        foreach (int levels in new[] { 4, 5 })
        {
            yield return new($"{levels}-level new AddressSpace (its root)", Injected.Empty,
                f => { f.Own(new AddressSpace(f.Failing, levels), s => s); return true; }, NothingChangesOnFailure: true);
            yield return new($"{levels}-level Unmap and FreeEmptyTables (allocate nothing)", () => Mixed(levels),
                f => { f.Space.Unmap(A + 0x3000, PageSize.Size4K); f.Space.FreeEmptyTables(A + 2 * M2, 2); return true; });
            foreach (PageSize size in Enum.GetValues<PageSize>())
                yield return new($"{levels}-level Map {size} at a fresh top-level slot", () => Injected.Raw(levels),
                    f => { f.Space.Map(3UL << (f.Space.VirtualBits - 3), 1UL << 40, size, PgProt.Shared); return true; },
                    NothingChangesOnFailure: true);
            foreach (int level in new[] { 2, 3 })
                yield return new($"{levels}-level Split of a level-{level} leaf", () => Mixed(levels),
                    f => { f.Space.Split(level == 2 ? A + 2 * M2 : A + G1, level); return true; }, NothingChangesOnFailure: true);

            foreach (var (name, start, end) in Ranges(levels))
            {
                string where = $"{levels}-level, {name}";
                foreach (bool shared in new[] { false, true })
                    foreach (bool splitHuge in new[] { false, true })
                    {
                        var wp = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true);
                        var options = new WalkOptions { SharedTables = shared };
                        yield return new($"ChangeProtection wp+markers shared={shared} splitHuge={splitHuge}, {where}", () => Mixed(levels),
                            f => f.Walk(start, end, (s, e) => PageTableOps.ChangeProtection(f.Space, s, e, wp, f.Flush, options, splitHuge)));
                    }
                yield return new($"ChangeProtection mprotect RO, {where}", () => Mixed(levels),
                    f => f.Walk(start, end, (s, e) => PageTableOps.ChangeProtection(f.Space, s, e,
                        ChangeProtectionParams.Mprotect(PgProt.ReadOnly, false, true), f.Flush)));
                yield return new($"Zap keeping uffd-wp markers, {where}", () => Mixed(levels),
                    f => f.Walk(start, end, (s, e) => PageTableOps.Zap(f.Space, s, e, ZapParams.DontNeedFileUffdWp, f.Flush)));
                yield return new($"Zap (munmap), {where}", () => Mixed(levels),
                    f => f.Walk(start, end, (s, e) => PageTableOps.Zap(f.Space, s, e, ZapParams.Unmap, f.Flush, new WalkOptions { SharedTables = true })));
                yield return new($"Harvest D, {where}", () => Mixed(levels),
                    f => f.Walk(start, end, (s, e) => PageTableOps.Harvest(f.Space, s, e, new ulong[(e - s) / 4096 / 64 + 1], HarvestBit.Dirty, f.Flush)));
                yield return new($"Scan with WP_MATCHING (ScanOp), {where}", () => Mixed(levels),
                    f => f.Walk(start, end, (s, e) => ScanWp(f, s, e)));
            }
            // Parallel: the serial structure pass allocates; its failure must stop the whole walk where it stopped.
            ulong ps = A + 3 * M2 + 0x7000, pe = A + 3 * M2 + (70UL << 20);
            yield return new($"{levels}-level parallel ChangeProtection wp+markers over 70 MiB", () => Mixed(levels),
                f => f.Walk(ps, pe, (s, e) => PageTableOps.ChangeProtection(f.Space, s, e,
                    ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true), f.Flush,
                    new WalkOptions { Parallelism = 2 }, splitHuge: true)));
        }
    }

    private static WalkResult ScanWp(Injected f, ulong start, ulong end)
    {
        // No region buffer: nothing is reported, every written page is write-protected.
        var output = new ScanOutput(null, 0, 0);
        var op = new ScanOp(f.Space, &output, new ScanParams { EmptyIsWritten = true, WriteProtect = true }, holeIsWritten: true, ScanParams.NoPfn, f.Flush, sharedTables: false);
        var w = RangeWalker.Walk(f.Space, start, end, ref op, f.Flush);
        return w.Status == WalkStatus.Stopped && op.OutOfTables ? w with { Status = WalkStatus.OutOfTables } : w;
    }

    private const ulong Thp = 0x7F00_0000_0000;   // anonymous, THP hint, 8 MiB
    private const ulong File = 0x7F00_1000_0000;  // shmem, 64 pages
    private const ulong Fresh = 0x7E00_0000_0000; // anonymous, 4 MiB, nothing faulted

    /// <summary>A model with a THP, a huge zero page, shmem pages (fault-around), an untouched anonymous region; optionally all registered for uffd-wp.</summary>
    private static Injected Model(UffdFeatures features, bool register = false, bool protect = false)
    {
        var f = Injected.ForModel(features);
        var m = f.Mm;
        var flush = new FlushPlan();
        m.Map(Thp, 8 * M2, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        m.Map(File, 64 << 12, Backing.File, MemoryProtection.ReadWrite);
        m.Map(Fresh, 2 * M2, Backing.Anon, MemoryProtection.ReadWrite);
        m.Access(Thp + 0x10, write: true, flush);       // a THP
        m.Access(Thp + M2 + 0x10, write: false, flush); // the huge zero page
        m.Access(Thp + 3 * M2 + 0x10, write: true, flush);
        for (ulong p = 0; p < 64; p += 7)
            m.Access(File + (p << 12), write: p % 2 == 0, flush);
        if (register)
        {
            m.RegisterWriteProtect(Thp, 8 * M2, new FlushPlan());
            m.RegisterWriteProtect(File, 64 << 12, new FlushPlan());
            m.RegisterWriteProtect(Fresh, 2 * M2, new FlushPlan());
        }
        if (protect)
        {
            m.WriteProtect(Thp, 8 * M2, protect: true, flush);
            m.WriteProtect(File, 64 << 12, protect: true, flush);
        }
        return f;
    }

    private static IEnumerable<InjectedOp> ModelOps()
    {
        var none = UffdFeatures.None;
        var async = UffdFeatures.WpAsync;
        yield return new("new MemoryModel (its root)", Injected.Empty,
            f => { f.Own(new MemoryModel(none, f.Failing), m => m.Space); return true; }, NothingChangesOnFailure: true);
        yield return new("Map, RegisterWriteProtect, Pagemap (allocate nothing)", () => Model(none),
            f =>
            {
                f.Mm.Map(0x7D00_0000_0000, 16 << 12, Backing.Anon, MemoryProtection.Read);
                f.Mm.RegisterWriteProtect(0x7D00_0000_0000, 16 << 12, new FlushPlan());
                Assert.NotEqual(0UL, f.Mm.Pagemap(Thp));
                return true;
            });
        yield return new("Access: write fault on fresh anonymous memory (every table)", () => Model(none),
            f => Completed(f.Mm.Access(Fresh + 0x5000, write: true, f.Flush)));
        yield return new("Access: read fault on shmem (fault-around)", () => Model(none),
            f => Completed(f.Mm.Access(File + (3 << 12), write: false, f.Flush)));
        yield return new("Access: write fault making a THP", () => Model(none),
            f => Completed(f.Mm.Access(Thp + 5 * M2 + 8, write: true, f.Flush)));
        yield return new("Access: write to the huge zero page", () => Model(none),
            f => Completed(f.Mm.Access(Thp + M2 + 0x2000, write: true, f.Flush)));
        yield return new("Access: async uffd-wp write to a protected THP (split)", () => Model(async, register: true, protect: true),
            f => Completed(f.Mm.Access(Thp + 0x3000, write: true, f.Flush)));
        yield return new("Access: async uffd-wp write to the protected huge zero page (split)", () => Model(async, register: true, protect: true),
            f => Completed(f.Mm.Access(Thp + M2 + 0x3000, write: true, f.Flush)));
        yield return new("WriteProtect with WP_UNPOPULATED markers", () => Model(async, register: true),
            f => f.Walk(Fresh, Fresh + 2 * M2, (s, e) => f.Mm.WriteProtect(s, e - s, protect: true, f.Flush)));
        yield return new("WriteProtect of a THP in part (split) and shmem", () => Model(async, register: true),
            f => f.Walk(Thp + 0x5000, Thp + 4 * M2, (s, e) => f.Mm.WriteProtect(s, e - s, protect: true, f.Flush)));
        yield return new("WriteProtect resolve of a THP in part", () => Model(async, register: true, protect: true),
            f => f.Walk(Thp + 0x5000, Thp + M2 + 0x9000, (s, e) => f.Mm.WriteProtect(s, e - s, protect: false, f.Flush)));
        yield return new("Protect (mprotect) of THPs in part", () => Model(none),
            f => { f.Mm.Protect(Thp + 0x5000, 2 * M2, MemoryProtection.Read, f.Flush); return true; });
        yield return new("Zap (MADV_DONTNEED) of THPs in part", () => Model(none),
            f => { f.Mm.Zap(Thp + 0x5000, 2 * M2, f.Flush); return true; });
        yield return new("Zap of registered, protected shmem and THPs in part", () => Model(async, register: true, protect: true),
            f => { f.Mm.Zap(Thp + 0x5000, 2 * M2, f.Flush); f.Mm.Zap(File + 0x3000, 0x9000, f.Flush); return true; });
        yield return new("Unmap of THPs in part", () => Model(none),
            f => { f.Mm.Unmap(Thp + 0x5000, 2 * M2, f.Flush); return true; });
        yield return new("Unregister of THPs in part", () => Model(async, register: true, protect: true),
            f => { f.Mm.Unregister(Thp + 0x5000, 2 * M2, f.Flush); return true; });
        yield return new("Scan with WP_MATCHING of THPs in part", () => Model(async, register: true),
            f =>
            {
                // The scan answers OutOfTables with walk_end (it does not throw): resume there, as a caller would.
                var regions = new PageRegion[4096];
                var r = f.Mm.Scan(f.ResumeAt ?? Thp + 0x5000, Thp + 3 * M2 + 0x7000, new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true), regions, f.Flush);
                Assert.True(r.Complete || r.Status == WalkStatus.OutOfTables, $"scan stopped with {r.Status}");
                f.ResumeAt = r.Complete ? null : r.WalkEnd;
                return r.Complete;
            });
    }

    private static bool Completed(AccessResult r)
    {
        Assert.NotEqual(AccessOutcome.SegmentationFault, r.Outcome);
        return true;
    }

    public static TheoryData<string> Names() => [.. RawOps().Concat(ModelOps()).Select(o => o.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryAllocationFailureLeavesSoundTablesAndRetries(string name)
    {
        var op = RawOps().Concat(ModelOps()).Single(o => o.Name == name);
        FailureInjection.Run(op);
    }

    [Fact]
    public void TheHarnessReachesEveryAllocation()
    {
        // A walk that must allocate several tables: the harness tries each of them.
        var op = RawOps().First(o => o.Name.StartsWith("4-level Map Size4K", StringComparison.Ordinal));
        Assert.Equal(3, FailureInjection.Run(op));
        var markers = RawOps().First(o => o.Name.Contains("shared=False splitHuge=False, 4-level, across the 512 GiB", StringComparison.Ordinal));
        Assert.Equal(5, FailureInjection.Run(markers)); // PD + PT below the existing PDPT of entry 0, PDPT + PD + PT in entry 1
    }
}
