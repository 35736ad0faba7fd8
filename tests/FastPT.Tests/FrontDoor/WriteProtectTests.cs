using CsCheck;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Paging;
using FastPT.Tests.Kernels;
using Xunit;

namespace FastPT.Tests.FrontDoor;

/// <summary>
/// The raw-table write-protect rule: protect moves R/W of writable present leaves to bit 10,
/// unprotect moves it back, every other bit and entry stays, so a protect/unprotect pair
/// restores the tables exactly and never makes a read-only page writable.
/// </summary>
public unsafe class WriteProtectTests
{
    private const ulong KiB4 = 1UL << 12, MiB2 = 1UL << 21, GiB = 1UL << 30;

    [Fact]
    public void ReadOnlyPagesStayReadOnlyAndWritableOnesComeBack()
    {
        using var table = new PageTable();
        table.MapRange(0, 8 * KiB4, 0x10_0000, PageFlags.Writable | PageFlags.User | PageFlags.NoExecute);
        table.MapRange(8 * KiB4, 16 * KiB4, 0x20_0000, PageFlags.User);                  // read-only
        table.MapRange(GiB, GiB + 2 * MiB2, GiB, PageFlags.Writable | PageFlags.Global);  // two 2 MiB leaves
        table.MapRange(2 * GiB, 2 * GiB + MiB2, 0, PageFlags.None);                       // a read-only 2 MiB leaf
        var before = Snapshot(table);

        var flush = new FlushPlan();
        var p = table.WriteProtect(0, 4 * GiB, flush);
        Assert.True(p.Complete);
        Assert.Equal(8 + 1024, p.EntriesChanged);
        Assert.Equal([new FlushRange(0, 8 * KiB4), new FlushRange(GiB, GiB + 2 * MiB2)], flush.Ranges.ToArray());
        foreach (var (va, level, old) in before)
        {
            ulong now = table.Space.Entry(va, level);
            ulong expected = (old & Pte.Writable) != 0 ? (old & ~Pte.Writable) | Pte.UffdWp : old;
            Assert.True(expected == now, $"0x{va:X}: 0x{old:X} became 0x{now:X}, expected 0x{expected:X}");
        }
        Assert.Equal(PageFaultError.Present | PageFaultError.Write | PageFaultError.User,
            table.Translate(3 * KiB4, AccessType.Write, CpuMode.UserMode).ErrorCode);

        flush.Clear();
        var u = table.Unprotect(0, 4 * GiB, flush);
        Assert.Equal(p.EntriesChanged, u.EntriesChanged);
        Assert.Equal(before, Snapshot(table));
        Assert.False(table.Translate(9 * KiB4, AccessType.Write, CpuMode.UserMode).Success);
        Assert.True(table.Translate(3 * KiB4, AccessType.Write, CpuMode.UserMode).Success);
    }

    [Fact]
    public void AWritableHugeLeafCoveredInPartIsSplitAndAReadOnlyOneIsNot()
    {
        using var table = new PageTable();
        table.MapRange(0, MiB2, 0x4000_0000, PageFlags.Writable);
        table.MapRange(MiB2, 2 * MiB2, 0x4020_0000, PageFlags.None);
        var flush = new FlushPlan();
        var r = table.WriteProtect(KiB4, 2 * MiB2 - KiB4, flush);
        Assert.Equal(1, r.HugeSplits);
        Assert.Equal(511, r.EntriesChanged);
        Assert.True(table.Translate(0, AccessType.Write, CpuMode.Supervisor).Success);
        Assert.False(table.Translate(KiB4, AccessType.Write, CpuMode.Supervisor).Success);
        Assert.Equal(PageSize.Size2M, table.Translate(MiB2, AccessType.Read, CpuMode.Supervisor).Size);
        flush.Clear();
        table.Unprotect(0, 2 * MiB2, flush);
        for (ulong va = 0; va < MiB2; va += KiB4)
            Assert.True(table.Translate(va, AccessType.Write, CpuMode.Supervisor).Success);
        Assert.False(table.Translate(MiB2, AccessType.Write, CpuMode.Supervisor).Success);
    }

    /// <summary>
    /// Any PTE values at all (markers, swap entries, PROT_NONE, garbage): protect changes only
    /// writable present entries, unprotect only those with bit 10, each by moving one bit, and
    /// an entry without bit 10 comes back from the pair unchanged.
    /// </summary>
    [Fact]
    public void ThePairRestoresEveryEntryWithoutTheNote()
    {
        Gen.Select(Gen.ULong.Array[512], Gen.Bool, Gen.Int[0, 1]).Sample((values, shared, kind) =>
        {
            var rnd = new Random((int)values[0]);
            if (kind == 0)
                for (int i = 0; i < 512; i++)
                    values[i] = KernelTestData.Entry(rnd);
            using var table = new PageTable(new PageTableOptions { SharedTables = shared });
            table.MapRange(0, KiB4, 0, PageFlags.Writable); // makes the PTE table at [0, 2 MiB)
            ulong* pte = (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref table.Space.Entry(0, 1));
            values.CopyTo(new Span<ulong>(pte, 512));
            var flush = new FlushPlan();
            table.WriteProtect(0, MiB2, flush);
            for (int i = 0; i < 512; i++)
            {
                ulong v = values[i], want = (v & (Pte.Present | Pte.Writable)) == (Pte.Present | Pte.Writable) ? (v & ~Pte.Writable) | Pte.UffdWp : v;
                Assert.True(pte[i] == want, $"protect: 0x{v:X} became 0x{pte[i]:X}");
            }
            table.Unprotect(0, MiB2, flush);
            for (int i = 0; i < 512; i++)
            {
                ulong v = values[i];
                if ((v & Pte.UffdWp) == 0 || (v & Pte.Present) == 0)
                    Assert.True(pte[i] == v, $"pair: 0x{v:X} came back as 0x{pte[i]:X}");
                else
                    Assert.True(pte[i] == ((v & ~Pte.UffdWp) | Pte.Writable), $"unprotect: 0x{v:X} became 0x{pte[i]:X}");
            }
            new Span<ulong>(pte, 512).Clear();
        }, iter: KernelTestData.Count(40), seed: Environment.GetEnvironmentVariable("CSCHECK_SEED"));
    }

    [Fact]
    public void ManyThreadsProtectLikeOne()
    {
        using var serial = new PageTable();
        using var parallel = new PageTable(new PageTableOptions { Parallelism = 2, SharedTables = true });
        foreach (var t in new[] { serial, parallel })
        {
            t.MapRange(0, 256 * MiB2, 0, PageFlags.Writable, PageSize.Size4K);
            t.MapRange(GiB, 2 * GiB, GiB, PageFlags.Writable, PageSize.Size2M);
        }
        var fs = new FlushPlan();
        var fp = new FlushPlan();
        Assert.Equal(serial.WriteProtect(0, 2 * GiB, fs).EntriesChanged, parallel.WriteProtect(0, 2 * GiB, fp).EntriesChanged);
        Assert.Equal(Snapshot(serial), Snapshot(parallel));
        Assert.Equal(fs.Bytes, fp.Bytes);
    }

    /// <summary>Every leaf's (va, level, value), in address order.</summary>
    private static List<(ulong, int, ulong)> Snapshot(PageTable table)
    {
        var list = new List<(ulong, int, ulong)>();
        var space = table.Space;
        void Walk(ulong* t, int level, ulong baseVa)
        {
            for (int i = 0; i < 512; i++)
            {
                ulong e = t[i], va = baseVa + ((ulong)i << AddressSpace.Shift(level));
                if (e == 0)
                    continue;
                if (level == 1 || (e & Pte.Present) == 0 || AddressSpace.IsLeaf(e, level))
                    list.Add((va, level, e));
                else
                    Walk(space.Table(e & Pte.PfnMask), level - 1, va);
            }
        }
        Walk(space.RootTable, space.Levels, 0);
        return list;
    }
}
