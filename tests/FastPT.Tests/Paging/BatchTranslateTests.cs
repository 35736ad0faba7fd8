using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.Paging;

/// <summary>The batch Translate: what single calls give, lane groups and tails included; bad input changes nothing.</summary>
public sealed class BatchTranslateTests : IDisposable
{
    private const ulong Base = 0x7F00_0000_0000;
    private readonly NativeTableSource _tables = new();
    private readonly AddressSpace _space;

    public BatchTranslateTests()
    {
        _space = new AddressSpace(_tables);
        for (int i = 0; i < 64; i++)
            _space.Map(Base + (ulong)i * 4096, 0x1_0000_0000 + (ulong)i * 4096, PageSize.Size4K,
                Pte.Present | (i % 3 == 0 ? 0 : Pte.Writable) | (i % 5 == 0 ? 0 : Pte.User));
        _space.Map(Base + 0x20_0000, 0x4000_0000, PageSize.Size2M, PgProt.Shared);
    }

    public void Dispose()
    {
        _space.Dispose();
        _tables.Dispose();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(100)]
    public void EachResultIsWhatASingleCallGives(int count)
    {
        var rng = new Random(count);
        var vas = new ulong[count];
        for (int i = 0; i < count; i++)
            vas[i] = rng.Next(4) == 0 ? Base + 0x20_0000 + (ulong)rng.Next(0x20_0000) : Base + (ulong)rng.Next(80 * 4096); // some unmapped
        foreach (var access in new[] { AccessType.Read, AccessType.Write, AccessType.Execute })
        {
            foreach (var cpu in new[] { CpuMode.UserMode, CpuMode.Supervisor })
            {
                var results = new TranslateResult[count + 1];
                results[count] = TranslateResult.Fault(PageFaultError.Reserved, 5);   // a sentinel past the end
                _space.Translate(vas, access, cpu, results);
                for (int i = 0; i < count; i++)
                    Assert.Equal(_space.Translate(vas[i], access, cpu), results[i]);
                Assert.Equal(TranslateResult.Fault(PageFaultError.Reserved, 5), results[count]);
            }
        }
    }

    [Fact]
    public void BadInputIsRefusedBeforeAnyWalk()
    {
        ulong leaf = _space.Entry(Base + 4096, 1);
        Assert.Equal(0UL, leaf & Pte.Accessed);
        Assert.Throws<ArgumentException>(() => _space.Translate([Base, Base + 4096], AccessType.Read, CpuMode.UserMode, new TranslateResult[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => _space.Translate([Base + 4096, 0x8000_0000_0000], AccessType.Read, CpuMode.UserMode, new TranslateResult[2]));
        Assert.Equal(leaf, _space.Entry(Base + 4096, 1));   // no walk ran: no A set
    }

    [Fact]
    public unsafe void AFaultFirstInAGigabyteLeavesNoCachedPathThatSkipsAccessedAbove()
    {
        // Upper entries without A; the first address faults (not present), the second, in the
        // same 1 GiB, translates: the batch must set A at every level, as two single calls do.
        ulong[] vas = [Base + 64 * 4096, Base + 4096];
        var results = new TranslateResult[2];
        using var tables = new NativeTableSource();
        using var batch = new AddressSpace(tables);
        using var single = new AddressSpace(tables);
        foreach (var s in new[] { batch, single })
        {
            s.Map(Base + 4096, 0x1_0000_1000, PageSize.Size4K, Pte.Present | Pte.Writable | Pte.User);
            for (int level = 4; level >= 2; level--)
                *s.TryGetEntry(Base, level) &= ~Pte.Accessed;
        }
        batch.Translate(vas, AccessType.Read, CpuMode.UserMode, results);
        Assert.Equal([single.Translate(vas[0], AccessType.Read, CpuMode.UserMode), single.Translate(vas[1], AccessType.Read, CpuMode.UserMode)], results);
        Assert.False(results[0].Success);
        for (int level = 4; level >= 1; level--)
        {
            Assert.Equal(*single.TryGetEntry(Base + 4096, level) & ~Pte.PfnMask, *batch.TryGetEntry(Base + 4096, level) & ~Pte.PfnMask); // links differ in address only
            Assert.True((*batch.TryGetEntry(Base + 4096, level) & Pte.Accessed) != 0, $"level {level} has no A");
        }
    }
}
