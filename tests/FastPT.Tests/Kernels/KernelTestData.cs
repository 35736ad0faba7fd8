using FastPT.Entries;
using FastPT.Kernels;

namespace FastPT.Tests.Kernels;

/// <summary>ISAs to test, seeds, and adversarial entry mixes shared by the kernel tests.</summary>
internal static class KernelTestData
{
    /// <summary>
    /// Every ISA this machine accelerates, or only the one FASTPT_ISA forces (CI re-runs with
    /// DOTNET_EnableAVX512=0 etc. shrink the list by themselves).
    /// </summary>
    public static IEnumerable<KernelIsa> Isas =>
        string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(KernelIsas.EnvironmentVariable))
            ? KernelIsas.Available
            : [KernelIsas.Selected];

    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("FASTPT_TEST_SEED"), out int s) ? s : 12345;

    /// <summary>Randomised rounds: small by default for CI, FASTPT_TEST_COUNT for long local runs.</summary>
    public static int Count(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("FASTPT_TEST_COUNT"), out int c) ? c : Entries.PropertyRuns.Scaled(ciDefault);

    public const ulong Sentinel = 0xDEAD_BEEF_0BAD_F00D;

    /// <summary>The zero page's frame in the scan kernels' tests (special entries of it are PFNZERO).</summary>
    public const ulong ZeroPfn = 0x1000;

    public static readonly ulong[] NewProts =
        [PgProt.Shared, PgProt.ReadOnly, PgProt.None, PgProt.SharedExec, PgProt.ReadOnlyExec, 0, 0x8000_0000_0000_0067];

    public static readonly ChangeProtectionFlags[] FlagSets =
    [
        ChangeProtectionFlags.None,
        ChangeProtectionFlags.TryChangeWritable,
        ChangeProtectionFlags.UffdWp,
        ChangeProtectionFlags.UffdWp | ChangeProtectionFlags.TryChangeWritable,
        ChangeProtectionFlags.UffdWpResolve,
        ChangeProtectionFlags.UffdWpResolve | ChangeProtectionFlags.TryChangeWritable,
    ];

    /// <summary>Every flag set x every VMA fact x every newprot above.</summary>
    public static IEnumerable<ChangeProtectionParams> AllParams()
    {
        foreach (ulong prot in NewProts)
            foreach (var flags in FlagSets)
                for (int b = 0; b < 16; b++)
                    yield return new ChangeProtectionParams(prot, flags, (b & 1) != 0, (b & 2) != 0, (b & 4) != 0, (b & 8) != 0);
    }

    /// <summary>One entry of a kind chosen at random: the crafted mixes the kernels branch on.</summary>
    public static ulong Entry(Random r)
    {
        ulong pfn = (ulong)r.NextInt64(0, 1L << 40);
        ulong high = (r.Next(4) == 0 ? Pte.NoExecute : 0) | (r.Next(4) == 0 ? Pte.SavedDirty : 0)
            | (r.Next(8) == 0 ? Pte.DevMap : 0) | (r.Next(8) == 0 ? (ulong)(uint)r.Next(32) << 52 : 0)
            | (r.Next(4) == 0 ? (ulong)(uint)r.Next(16) << Pte.PkeyShift : 0);
        switch (r.Next(13))
        {
            case 12: // the zero page, special, readable or PROT_NONE (inverted frame), sometimes uffd-wp
                return L1tf.PfnEntry(ZeroPfn, r.Next(3) == 0 ? PgProt.None : PgProt.ReadOnly) | Pte.Special | (r.Next(2) == 0 ? Pte.UffdWp : 0);
            case 0: return 0;
            case 1: return (ulong)(uint)r.Next(1, 4) << 5; // A/D garbage only: still none
            case 2:
            case 3:
            case 4: // present, any low flags
                return (pfn << 12) | (ulong)(uint)r.Next(0x1000) | Pte.Present | high;
            case 5: // PROT_NONE / NUMA hinting: P=0, bit 8, inverted PFN
                return L1tf.PfnEntry(pfn, ((ulong)(uint)r.Next(0x1000) & ~Pte.Present) | Pte.ProtNone | high);
            case 6: return PteMarker.UffdWp;
            case 7: // any marker bits, sometimes with swap flag bits
                return PteMarker.Make((ulong)(uint)r.Next(8)) | (r.Next(3) == 0 ? (ulong)(uint)r.Next(8) << 1 & SwapEntry.FlagBits : 0);
            case 8:
            case 9: // swap-format entries, weighted to the migration / device types
                int type = r.Next(2) == 0 ? r.Next(24, 29) : r.Next(32);
                return SwapEntry.Make(type, (ulong)r.NextInt64(0, 1L << 50)) | ((ulong)(uint)r.Next(8) << 1 & SwapEntry.FlagBits);
            case 10: return PteMarker.Guard;
            default: return (ulong)r.NextInt64() ^ ((ulong)(uint)r.Next() << 33); // anything
        }
    }

    /// <summary>A run where every entry has the same kind (or at least P=1), so the all-present / all-none / memo fast paths run.</summary>
    public static void Fill(Random r, Span<ulong> span)
    {
        int mode = r.Next(8);
        ulong one = Entry(r);
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = mode switch
            {
                0 => (one & ~Pte.PfnMask) | ((ulong)i << 12) | Pte.Present,
                1 => r.Next(16) == 0 ? Entry(r) : 0,
                2 => r.Next(16) == 0 ? Entry(r) : PteMarker.UffdWp,
                3 => (ulong)r.NextInt64() | ((ulong)r.Next(2) << 63) | Pte.Present, // every lane P=1, bits mixed per lane
                4 => (one & ~(Pte.PfnMask | Pte.UffdWp | Pte.Writable | Pte.Dirty | Pte.Special)) | ((ulong)i << 12) | Pte.Present
                    | (r.Next(10) == 0 ? Pte.Writable | Pte.Dirty : Pte.UffdWp), // a written/protected mix of one mapping
                5 => r.Next(150) == 0 ? Entry(r) // populated words, now and then one of any other kind
                    : (one & ~(Pte.PfnMask | Pte.UffdWp | Pte.Writable | Pte.Dirty | Pte.Special)) | ((ulong)i << 12) | Pte.Present
                    | (r.Next(3) == 0 ? Pte.Writable | (r.Next(2) == 0 ? Pte.Dirty : 0) : Pte.UffdWp),

                _ => Entry(r),
            };
        }
    }
}
