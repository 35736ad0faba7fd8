using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Operations;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// Every public MemoryModel verb's flush plan, checked against the per-entry rule on random
/// sequences: after each call, every 4 KiB page whose translation a TLB may still hold (old
/// entry present and pte_needs_flush, or a present leaf whose page size changed, or whose
/// table went away) lies in the plan the call filled. Nothing is owed, nothing may be missing.
/// </summary>
public unsafe class FlushPlanRuleTests
{
    private const ulong Base = 0x7E00_0000_0000;
    private const ulong TwoMiB = 1UL << 21;

    [Fact]
    public void Every_model_verb_owes_exactly_what_pte_needs_flush_says_and_the_plan_has_it()
    {
        int rounds = (int)Entries.PropertyRuns.Iter(60);
        for (int seed = 1; seed <= rounds; seed++)
            Run(seed);
    }

    private static void Run(int seed)
    {
        var r = new Random(seed);
        using var mm = new MemoryModel(r.Next(2) == 0 ? UffdFeatures.WpAsync : UffdFeatures.WpUnpopulated);
        var regions = new List<(ulong Start, ulong Pages, bool Anon, bool Registered)>();
        for (int k = 0; k < 3; k++)
        {
            ulong start = Base + (ulong)k * 4 * TwoMiB;
            ulong pages = r.Next(3) == 0 ? 1024 : (ulong)r.Next(1, 700);
            bool anon = r.Next(2) == 0;
            mm.Map(start, pages << 12, anon ? Backing.Anon : Backing.File, MemoryProtection.ReadWrite, hugePageHint: anon && r.Next(2) == 0);
            bool registered = r.Next(3) != 0;
            if (registered)
                mm.RegisterWriteProtect(start, pages << 12, new FlushPlan());
            regions.Add((start, pages, anon, registered));
        }
        var flush = new FlushPlan();
        var scanOut = new PageRegion[4096];
        for (int step = 0; step < 80; step++)
        {
            var (start, pages, anon, registered) = regions[r.Next(regions.Count)];
            ulong first = (ulong)r.Next((int)pages);
            ulong count = Math.Min(pages - first, r.Next(3) == 0 ? pages : (ulong)r.Next(1, 600));
            ulong va = start + (first << 12), len = count << 12;
            var before = Snapshot(mm, start, pages);
            flush.Clear();
            string what;
            switch (r.Next(9))
            {
                case 0:
                case 1:
                    for (ulong p = 0; p < Math.Min(count, 40); p++)
                    {
                        var a = mm.Access(va + (p << 12), r.Next(3) != 0, flush);
                        if (a.Outcome == AccessOutcome.WriteProtectFault)
                            mm.WriteProtect(a.Message.Address, 4096, false, flush);
                    }
                    what = "accesses";
                    break;
                case 2 when registered:
                    mm.WriteProtect(va, len, r.Next(3) != 0, flush);
                    what = "WriteProtect";
                    break;
                case 3:
                    mm.Protect(va, len, (MemoryProtection)r.Next(3), flush);
                    what = "Protect";
                    break;
                case 4:
                    mm.Zap(va, len, flush);
                    what = "Zap";
                    break;
                case 5:
                    mm.Scan(va, va + len, new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true, MaxPages: r.Next(2) * r.Next(1, 900)), scanOut, flush);
                    what = "Scan WP_MATCHING";
                    break;
                case 6 when registered && r.Next(4) == 0:
                    mm.Unregister(start, pages << 12, flush);
                    regions[regions.FindIndex(x => x.Start == start)] = (start, pages, anon, false);
                    what = "Unregister";
                    break;
                case 7 when !registered && r.Next(2) == 0: // part of it (the region stays "unregistered" for case 2)
                    mm.RegisterWriteProtect(va, len, flush);
                    what = "RegisterWriteProtect";
                    break;
                default:
                    for (ulong p = 0; p < Math.Min(count, 64); p++)
                        mm.Access(va + (p << 12), true, flush);
                    what = "writes";
                    break;
            }
            var after = Snapshot(mm, start, pages);
            foreach (var (page, old) in before)
            {
                after.TryGetValue(page, out var now);
                bool owed = (old.Value & Pte.Present) != 0
                    && (now.Value == 0 || now.Level != old.Level || FlushRules.NeedsFlush(old.Value, now.Value));
                if (owed && !flush.Ranges.ToArray().Any(x => x.Start <= page && page < x.End))
                    Assert.Fail($"seed {seed} step {step} {what} [0x{va:X}+0x{len:X}): page 0x{page:X} went 0x{old.Value:X} (level {old.Level}) -> 0x{now.Value:X} (level {now.Level}), not in the plan {flush}");
            }
        }
        // The same model again unchanged: a verb that changes nothing owes nothing.
        var (s0, n0, _, _) = regions[0];
        flush.Clear();
        mm.Protect(s0, n0 << 12, MemoryProtection.ReadWrite, flush);
        flush.Clear();
        mm.Protect(s0, n0 << 12, MemoryProtection.ReadWrite, flush);
        Assert.Equal(0, flush.Count);
    }

    /// <summary>
    /// Each verb that splits a present huge leaf it covers in part (a THP or the huge zero page)
    /// owes every page of the leaf: the page size changes (pmdp_invalidate). Deterministic, so it
    /// holds at any test scale (the random rounds above reach a split only now and then).
    /// </summary>
    [Theory]
    [InlineData("zap", false)]
    [InlineData("zap", true)]
    [InlineData("protect", false)]
    [InlineData("protect", true)]
    [InlineData("wp", false)]
    [InlineData("wp", true)]
    [InlineData("unmap", false)]
    public void A_verb_that_splits_a_present_huge_leaf_owes_all_of_it(string verb, bool hugeZero)
    {
        using var mm = new MemoryModel(UffdFeatures.WpAsync);
        mm.Map(Base, 2 * TwoMiB, Backing.Anon, MemoryProtection.ReadWrite, hugePageHint: true);
        mm.RegisterWriteProtect(Base, 2 * TwoMiB, new FlushPlan());
        mm.Access(Base + 7 * 4096, write: !hugeZero, new FlushPlan());
        Assert.Equal(2, Snapshot(mm, Base, 512)[Base].Level);
        var flush = new FlushPlan();
        ulong at = Base + 5 * 4096;
        switch (verb)
        {
            case "zap": mm.Zap(at, 4096, flush); break;
            case "protect": mm.Protect(at, 4096, MemoryProtection.Read, flush); break;
            case "wp": mm.WriteProtect(at, 4096, protect: true, flush); break;
            default: mm.Unmap(at, 4096, flush); break;
        }
        Assert.Equal(1, Snapshot(mm, Base, 512)[Base + 7 * 4096].Level);
        var ranges = flush.Ranges.ToArray();
        for (ulong va = Base; va < Base + TwoMiB; va += 4096)
            Assert.True(ranges.Any(x => x.Start <= va && va < x.End), $"{verb}: page 0x{va:X} of the split leaf is not in the plan {flush}");
    }

    /// <summary>Each page of the region with a non-zero leaf: its value and level (pages without tables are absent).</summary>
    internal static Dictionary<ulong, (int Level, ulong Value)> Snapshot(MemoryModel mm, ulong start, ulong pages)
    {
        var map = new Dictionary<ulong, (int, ulong)>();
        for (ulong va = start; va < start + (pages << 12); va += 4096)
        {
            ulong* slot = mm.Space.FindLeaf(va, out int level);
            if (slot != null && *slot != 0)
                map[va] = (level, *slot);
        }
        return map;
    }
}
