using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// The model's range verbs with <see cref="MemoryModel.WalkOptions"/>: a model whose verbs walk
/// on two threads (or with shared tables) ends every step with the same leaves, flush plans and
/// scan reports as a serial one, on ranges large enough to be split into chunks.
/// </summary>
public unsafe class ModelWalkOptionsTests
{
    private const ulong Base = 0x7E00_0000_0000;
    private const ulong Length = 160UL << 20; // above ParallelWalker.MinParallelBytes
    private const ulong Pages = Length >> 12;

    private static MemoryModel Build(WalkOptions options)
    {
        var mm = new MemoryModel(UffdFeatures.WpAsync) { WalkOptions = options };
        var flush = new FlushPlan();
        mm.Map(Base, Length / 2, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        mm.Map(Base + Length / 2, Length / 2, Backing.Anon, MemoryProtection.ReadWrite);
        mm.RegisterWriteProtect(Base, Length, new FlushPlan());
        var rng = new Random(7);
        for (ulong va = Base; va < Base + Length; va += 4096)
            if (rng.Next(3) == 0)
                mm.Access(va, write: rng.Next(2) == 0, flush);
        return mm;
    }

    public static TheoryData<int, bool> Options() => new() { { 2, false }, { -1, false }, { 2, true }, { 0, true } };

    [Theory]
    [MemberData(nameof(Options))]
    public void Verbs_walking_in_parallel_or_shared_leave_what_a_serial_walk_leaves(int parallelism, bool shared)
    {
        using var serial = Build(default);
        using var other = Build(new WalkOptions { Parallelism = parallelism, SharedTables = shared });
        var steps = new (string Name, Action<MemoryModel, FlushPlan> Verb)[]
        {
            ("WriteProtect", (m, f) => m.WriteProtect(Base, Length, protect: true, f)),
            ("scan WP_MATCHING", (m, f) => m.Scan(Base, Base + Length, new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true), new PageRegion[4096], f)),
            ("unprotect", (m, f) => m.WriteProtect(Base + 0x5000, Length - 0x9000, protect: false, f)),
            ("mprotect read", (m, f) => m.Protect(Base + (3UL << 20), Length - (7UL << 20), MemoryProtection.Read, f)),
            ("mprotect rw", (m, f) => m.Protect(Base, Length, MemoryProtection.ReadWrite, f)),
            ("zap", (m, f) => m.Zap(Base + 0x3000, Length - (5UL << 20), f)),
            ("unmap", (m, f) => m.Unmap(Base + (9UL << 20), Length - (9UL << 20), f)),
        };
        foreach (var (name, verb) in steps)
        {
            var fs = new FlushPlan();
            var fo = new FlushPlan();
            verb(serial, fs);
            verb(other, fo);
            Assert.True(fs.Ranges.SequenceEqual(fo.Ranges), $"{name}: the flush plans differ ({fs.Count} vs {fo.Count} ranges)");
            var a = FlushPlanRuleTests.Snapshot(serial, Base, Pages); // PFNs match: both models allocate frames in the same order
            var b = FlushPlanRuleTests.Snapshot(other, Base, Pages);
            Assert.True(a.Count == b.Count, $"{name}: {a.Count} leaves serial, {b.Count} with parallelism {parallelism} shared {shared}");
            foreach (var (va, leaf) in a)
                Assert.True(b.TryGetValue(va, out var o) && o == leaf, $"{name}: 0x{va:X} is {leaf} serial, {(b.TryGetValue(va, out var x) ? x.ToString() : "absent")} otherwise");
        }
        Assert.Equal(serial.TablesInUse, other.TablesInUse);
    }

    [Fact]
    public void A_page_budget_is_refused_and_changes_nothing()
    {
        using var mm = new MemoryModel();
        var e = Assert.Throws<ArgumentException>(() => mm.WalkOptions = new WalkOptions { BudgetPages = 16 });
        Assert.Contains("BudgetPages must be 0", e.Message);
        Assert.Equal(default, mm.WalkOptions);
        Assert.Throws<ArgumentOutOfRangeException>(() => mm.WalkOptions = new WalkOptions { Parallelism = -2 });
    }
}
