using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Walk;

/// <summary>ParallelWalker must leave the same tables, counts and flush plan as RangeWalker.</summary>
public unsafe class ParallelWalkerTests
{
    private const ulong Base = 0x40_0000_0000; // 256 GiB: 1 GiB-aligned
    private const ulong Size = 3UL << 30;

    /// <summary>A deterministic mix: 4 KiB pages, holes, 2 MiB leaves, a 1 GiB leaf, markers.</summary>
    private static AddressSpace Build(NativeTableSource tables, int seed)
    {
        var s = new AddressSpace(tables);
        var r = new Random(seed);
        // First GiB: 4 KiB pages in some pmds, 2 MiB leaves in others, some pmds empty.
        for (ulong pmd = 0; pmd < 512; pmd++)
        {
            ulong va = Base + (pmd << 21);
            switch (r.Next(4))
            {
                case 0: break;
                case 1: s.Map(va, (pmd + 1) << 21, PageSize.Size2M, PgProt.Shared); break;
                default:
                    for (ulong pg = 0; pg < 512; pg++)
                    {
                        int k = r.Next(8);
                        if (k == 0)
                            continue;
                        s.Map(va + (pg << 12), (pmd << 21) + (pg << 12) + (1UL << 40), PageSize.Size4K, k == 1 ? PgProt.ReadOnly : PgProt.Shared | Pte.Dirty);
                        if (k == 2)
                            s.Entry(va + (pg << 12), 1) = PteMarker.UffdWp;
                    }
                    break;
            }
        }
        // Second GiB: one 1 GiB leaf. Third: left empty (populating ops fill it).
        s.Map(Base + (1UL << 30), 1UL << 30, PageSize.Size1G, PgProt.Shared);
        return s;
    }

    private static void AssertSame(AddressSpace a, AddressSpace b)
    {
        for (ulong va = Base; va < Base + Size; va += 4096)
        {
            ulong* ea = a.FindLeaf(va, out int la);
            ulong* eb = b.FindLeaf(va, out int lb);
            Assert.Equal(la, lb);
            if (la > 1 && (*ea & Pte.Present) != 0 && (*ea & Pte.PageSize) == 0)
                continue; // a missing table below: both non-leaf at this level
            Assert.True(*ea == *eb, $"0x{va:X} level {la}: serial 0x{*ea:X} parallel 0x{*eb:X}");
        }
    }

    public static TheoryData<int> Ops => [0, 1, 2, 3];

    [Theory]
    [MemberData(nameof(Ops))]
    public void SameResultAsSingleThreaded(int which)
    {
        using var ta = new NativeTableSource();
        using var tb = new NativeTableSource();
        using var a = Build(ta, 7);
        using var b = Build(tb, 7);
        ulong start = Base + 0x1000 * 37; // unaligned start: a partial 2 MiB leaf may split
        ulong end = Base + Size - 0x3000;
        var fa = new FlushPlan();
        var fb = new FlushPlan();
        WalkResult ra, rb;
        switch (which)
        {
            case 0: // protect with markers: populates the empty GiB and splits the 1 GiB leaf
                {
                    var p = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: true);
                    var oa = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge: true);
                    var ob = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge: true);
                    ra = RangeWalker.Walk(a, start, end, ref oa, fa);
                    rb = ParallelWalker.Walk(b, start, end, ref ob, fb, 2);
                    Assert.True(ra.TablesAllocated > 0 && ra.HugeSplits > 0);
                    break;
                }
            case 1: // mprotect read-only without splitting: huge leaves take the pmd rule
                {
                    var p = ChangeProtectionParams.Mprotect(PgProt.ReadOnly, writable: false, shared: true);
                    var oa = new ChangeProtectionOp<SharedTables>(p, splitHuge: false);
                    var ob = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge: false);
                    ra = RangeWalker.Walk(a, start, end, ref oa, fa);
                    rb = ParallelWalker.Walk(b, start, end, ref ob, fb, 3);
                    break;
                }
            case 2: // aligned range, no allocation needed at all
                {
                    var p = ChangeProtectionParams.UffdUnprotect(PgProt.Shared);
                    var oa = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge: false);
                    var ob = new ChangeProtectionOp<ExclusiveTables>(p, splitHuge: false);
                    ra = RangeWalker.Walk(a, Base, Base + (1UL << 30), ref oa, fa);
                    rb = ParallelWalker.Walk(b, Base, Base + (1UL << 30), ref ob, fb, 2);
                    Assert.Equal(0, rb.TablesAllocated);
                    break;
                }
            default: // harvest D into bitmaps
                {
                    var bma = new ulong[(Size >> 12) / 64 + 1];
                    var bmb = new ulong[bma.Length];
                    fixed (ulong* pa = bma, pb = bmb)
                    {
                        var oa = new HarvestOp<ExclusiveTables>(pa, Base, HarvestBit.Dirty);
                        var ob = new HarvestOp<SharedTables>(pb, Base, HarvestBit.Dirty);
                        ra = RangeWalker.Walk(a, Base, Base + Size, ref oa, fa);
                        rb = ParallelWalker.Walk(b, Base, Base + Size, ref ob, fb, 2);
                    }
                    Assert.Equal(bma, bmb);
                    Assert.True(ra.EntriesChanged > 1000);
                    break;
                }
        }
        Assert.Equal(ra, rb);
        Assert.Equal(fa.Ranges.ToArray(), fb.Ranges.ToArray());
        Assert.True(ra.EntriesChanged > 0);
        AssertSame(a, b);
    }

    [Fact]
    public void SmallRangesAndZapRunSerially()
    {
        using var t = new NativeTableSource();
        using var s = Build(t, 3);
        var op = new ChangeProtectionOp<ExclusiveTables>(ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, false), false);
        var r = ParallelWalker.Walk(s, Base, Base + (2UL << 20), ref op);
        Assert.True(r.Complete);
        Assert.Throws<ArgumentException>(() => ParallelWalker.Walk(s, Base + 1, Base + (2UL << 20), ref op));
    }

    [Fact]
    public void AWarmParallelWalkAllocatesNothingOnTheCallingThread()
    {
        using var t = new NativeTableSource();
        using var s = Build(t, 5);
        var flush = new FlushPlan();
        var protect = new ChangeProtectionOp<ExclusiveTables>(ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, false), false);
        var unprotect = new ChangeProtectionOp<ExclusiveTables>(ChangeProtectionParams.UffdUnprotect(PgProt.Shared), false);
        for (int i = 0; i < 3; i++) // warm: workers, this thread's job, flush plan capacity, JIT
        {
            flush.Clear();
            ParallelWalker.Walk(s, Base, Base + (1UL << 30), ref protect, flush, degreeOfParallelism: 2);
            flush.Clear();
            ParallelWalker.Walk(s, Base, Base + (1UL << 30), ref unprotect, flush, degreeOfParallelism: 2);
        }
        // A round can meet a cold path once (another test holding the workers makes this thread
        // run its chunks itself, and the JIT compiles that path): steady state is a round at 0.
        // A per-call allocation shows in every round.
        long least = long.MaxValue, changed = 0;
        for (int round = 0; round < 5 && least != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 3; i++)
            {
                flush.Clear();
                changed += ParallelWalker.Walk(s, Base, Base + (1UL << 30), ref protect, flush, degreeOfParallelism: 2).EntriesChanged;
                flush.Clear();
                changed += ParallelWalker.Walk(s, Base, Base + (1UL << 30), ref unprotect, flush, degreeOfParallelism: 2).EntriesChanged;
            }
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, least);
        Assert.True(changed > 0);
    }

    [Fact]
    public void ConcurrentParallelWalksOfDisjointSpacesMatchSerialWalks()
    {
        // Two callers at once: one gets the workers, the other runs its chunks itself; both
        // must end exactly as a single-threaded walk would.
        using var ta = new NativeTableSource();
        using var tb = new NativeTableSource();
        using var tc = new NativeTableSource();
        using var td = new NativeTableSource();
        using var a = Build(ta, 7);
        using var b = Build(tb, 7);
        using var c = Build(tc, 8);
        using var d = Build(td, 8);
        var p = ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, false);
        var results = new WalkResult[2];
        Parallel.Invoke(
            () => { var op = new ChangeProtectionOp<ExclusiveTables>(p, false); for (int i = 0; i < 20; i++) results[0] = ParallelWalker.Walk(a, Base, Base + (1UL << 30), ref op, null, 2); },
            () => { var op = new ChangeProtectionOp<ExclusiveTables>(p, false); for (int i = 0; i < 20; i++) results[1] = ParallelWalker.Walk(c, Base, Base + (1UL << 30), ref op, null, 2); });
        var ob = new ChangeProtectionOp<ExclusiveTables>(p, false);
        var od = new ChangeProtectionOp<ExclusiveTables>(p, false);
        WalkResult rb = default, rd = default;
        for (int i = 0; i < 20; i++)
        {
            rb = RangeWalker.Walk(b, Base, Base + (1UL << 30), ref ob);
            rd = RangeWalker.Walk(d, Base, Base + (1UL << 30), ref od);
        }
        Assert.Equal(rb, results[0]);
        Assert.Equal(rd, results[1]);
        AssertSame(a, b);
        AssertSame(c, d);
    }
}
