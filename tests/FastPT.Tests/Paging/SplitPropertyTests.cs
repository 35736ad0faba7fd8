using CsCheck;
using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Tests.Entries;
using Xunit;

namespace FastPT.Tests.Paging;

/// <summary>Splitting a valid huge leaf changes no translation: same outcome, address and error code.</summary>
public unsafe class SplitPropertyTests
{
    private static readonly long Iter = PropertyRuns.Iter(300);

    [Fact]
    public void SplitPreservesEveryTranslation() =>
        Gen.Select(Gen.Int[2, 3], Gen.ULong, Gen.ULong, Gen.UInt, Gen.ULong.Array[16]).Sample((level, frameBits, flagBits, pkru, probes) =>
        {
            ulong frameMask = level == 2 ? Pte.Pfn2MMask : Pte.Pfn1GMask;
            ulong frame = frameBits & frameMask & ((1UL << 46) - 1);
            // Any flags but the frame field, with PS; PAT_LARGE random; no reserved bits 13..29.
            ulong flags = (flagBits & ~Pte.PfnMask) | Pte.PageSize | (flagBits & Pte.PatLarge);
            ulong huge = frame | flags;
            using var src = new NativeTableSource();
            using var space = new AddressSpace(src);
            const ulong va = 0x40_0000_0000;
            space.Map(va, 0, level == 2 ? PageSize.Size2M : PageSize.Size1G, PgProt.Shared);
            space.Entry(va, level) = huge;

            var modes = new[]
            {
                new CpuMode(User: true, ProtectionKeys: true, Pkru: pkru),
                new CpuMode(User: false, Smap: true, Smep: true, ProtectionKeys: true, Pkru: pkru),
                new CpuMode(User: false, WriteProtect: false, Nxe: false),
            };
            var before = new List<TranslateResult>();
            foreach (ulong probe in probes)
                foreach (CpuMode cpu in modes)
                    foreach (AccessType a in Enum.GetValues<AccessType>())
                        before.Add(space.Translate(va + (probe & ((1UL << (12 + 9 * (level - 1))) - 1)), a, cpu, updateAccessedDirty: false));

            space.Split(va, level);
            int k = 0;
            foreach (ulong probe in probes)
                foreach (CpuMode cpu in modes)
                    foreach (AccessType a in Enum.GetValues<AccessType>())
                    {
                        var b = before[k++];
                        var r = space.Translate(va + (probe & ((1UL << (12 + 9 * (level - 1))) - 1)), a, cpu, updateAccessedDirty: false);
                        Assert.Equal((b.Success, b.PhysicalAddress, b.ErrorCode), (r.Success, r.PhysicalAddress, r.ErrorCode));
                        if (r.Success)
                            Assert.Equal(level == 2 ? PageSize.Size4K : PageSize.Size2M, r.Size);
                    }
        }, iter: Iter, seed: PropertyRuns.Seed);
}
