using System.Globalization;
using System.Text;
using CsCheck;
using FastPT.Entries;
using FastPT.Paging;
using FastPT.Tests.Entries;
using Xunit;

namespace FastPT.Tests.Paging;

/// <summary>
/// Translate against <see cref="ReferenceWalk"/> on random small address spaces: random
/// entry bits at every level (P, R/W, U/S, XD, PS, PK, reserved bits), random CPU modes and
/// accesses. Outcome, error code, fault level, physical address, size and every table byte
/// afterwards (A/D updates) must agree.
/// </summary>
public unsafe class TranslatePropertyTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly long Iter = PropertyRuns.Iter(4_000);

    /// <summary>One random walk setup, decoded from raw random words.</summary>
    internal sealed record WalkCase(int Levels, ulong Va, int LeafLevel, ulong[] Entries, ulong[] Decoys, CpuMode Cpu, AccessType Access)
    {
        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"{Levels}-level va=0x{Va:X} leaf@{LeafLevel} {Access} {Cpu}; entries (top..leaf, link frames filled in):");
            foreach (ulong e in Entries)
                sb.Append(CultureInfo.InvariantCulture, $" 0x{e:X}");
            return sb.ToString();
        }
    }

    /// <summary>Draws decisions from random words, so one generator makes a whole structured case.</summary>
    private sealed class Bits(ulong[] words)
    {
        private int _i;
        private ulong Next() => words[_i++ % words.Length] * 0x9E37_79B9_7F4A_7C15UL + (ulong)_i; // avoid repeats when the array is short
        public bool Chance(int percent) => (int)(Next() % 100) < percent;
        public int Below(int n) => (int)(Next() % (ulong)n);
        public ulong Word() => Next();
        public T Pick<T>(params T[] items) => items[Below(items.Length)];
    }

    private static WalkCase Decode(ulong[] words)
    {
        var r = new Bits(words);
        int levels = r.Chance(70) ? 4 : 5;
        int leafLevel = r.Pick(1, 1, 2, 3);
        int m = r.Pick(36, 40, 46, 52, 52);
        var cpu = new CpuMode(
            User: r.Chance(50),
            WriteProtect: r.Chance(70),
            Nxe: r.Chance(80),
            Smep: r.Chance(40),
            Smap: r.Chance(40),
            AlignmentCheck: r.Chance(30),
            ProtectionKeys: r.Chance(50),
            Pkru: r.Chance(40) ? 0 : r.Chance(50) ? (uint)r.Word() : (uint)(1 + r.Below(3)) << (2 * r.Below(16)),
            MaxPhysicalAddressBits: m,
            NonLeafBit8Reserved: r.Chance(30),
            Pages1G: r.Chance(80));
        var access = r.Pick(AccessType.Read, AccessType.Write, AccessType.Execute);

        ulong va = 0;
        for (int l = levels; l >= 1; l--)
            va |= (ulong)r.Pick(0, 1, 255, 256, 510, 511, r.Below(512)) << (12 + 9 * (l - 1));
        va |= (uint)r.Below(4096);
        int vbits = 12 + 9 * levels;
        va = (ulong)((long)(va << (64 - vbits)) >> (64 - vbits));     // canonical

        // Entries from the top level down to the leaf. Links get their table address later;
        // here they carry flags and (only) reserved high bits, so the walk never follows garbage.
        var entries = new ulong[levels - leafLevel + 1];
        for (int k = 0; k < entries.Length; k++)
        {
            int level = levels - k;
            bool isLeafSlot = level == leafLevel;
            ulong e = 0;
            if (r.Chance(95)) e |= Pte.Present;
            if (r.Chance(85)) e |= Pte.Writable;
            if (r.Chance(85)) e |= Pte.User;
            if (r.Chance(20)) e |= Pte.WriteThrough;
            if (r.Chance(20)) e |= Pte.CacheDisable;
            if (r.Chance(50)) e |= Pte.Accessed;
            if (r.Chance(50)) e |= Pte.Dirty;
            if (r.Chance(20)) e |= Pte.Global;
            e |= (r.Word() & 7) << 9;                                   // software bits 9..11
            if (r.Chance(30)) e |= (r.Word() & 0x7F) << 52;             // software bits 52..58
            e |= (r.Word() & 0xF) << 59;                                // PK (meaningful in the leaf)
            if (r.Chance(20)) e |= Pte.NoExecute;
            if (isLeafSlot)
            {
                if (level > 1) e |= Pte.PageSize;
                else if (r.Chance(30)) e |= Pte.Pat4K;
                int pageBits = 12 + 9 * (level - 1);
                ulong frame = r.Word() & ((1UL << Math.Min(m, 52)) - 1) & ~((1UL << pageBits) - 1);
                e |= frame;
                if (level > 1 && r.Chance(30)) e |= Pte.PatLarge;
                if (level > 1 && r.Chance(10)) e |= 1UL << (13 + r.Below(level == 2 ? 8 : 17)); // reserved in a large leaf
                if (r.Chance(8)) e |= 1UL << (36 + r.Below(16));        // possibly above MAXPHYADDR
            }
            else
            {
                if (r.Chance(6)) e |= Pte.PageSize;                      // PS on a link: RSVD at 4/5, a leaf at 2/3
                if (m < 52 && r.Chance(6)) e |= 1UL << (m + r.Below(52 - m)); // only bits the walk rejects
            }
            entries[k] = e;
        }
        var decoys = new ulong[entries.Length];
        for (int k = 0; k < decoys.Length; k++)
            decoys[k] = r.Word();
        return new WalkCase(levels, va, leafLevel, entries, decoys, cpu, access);
    }

    private static readonly Gen<WalkCase> Cases = Gen.ULong.Array[48].Select(Decode);

    private static long s_ok, s_notPresent, s_reserved, s_protection, s_pk, s_large;

    [Fact]
    public void TranslateMatchesTheReferenceWalk()
    {
        Cases.Sample(Check, iter: Iter, seed: PropertyRuns.Seed, print: c => c.ToString());
        output.WriteLine($"{Iter} walks: ok {s_ok} (large {s_large}), not present {s_notPresent}, reserved {s_reserved}, protection {s_protection}, pk {s_pk}");
        if (Iter >= 1000)
        {
            // The generator must reach every kind of outcome, or the comparison proves little.
            Assert.True(s_ok > Iter / 20, $"only {s_ok} successful walks");
            Assert.True(s_notPresent > 0 && s_reserved > 0 && s_protection > 0 && s_pk > 0 && s_large > 0,
                $"outcomes: ok {s_ok}, not present {s_notPresent}, reserved {s_reserved}, protection {s_protection}, pk {s_pk}, large {s_large}");
        }
    }

    private static void Check(WalkCase c)
    {
        using var guest = new GuestSpace(c.Levels, tables: 8);
        AddressSpace space = guest.Space;
        ulong table = space.Root;
        for (int k = 0; k < c.Entries.Length; k++)
        {
            int level = c.Levels - k;
            int index = AddressSpace.Index(c.Va, level);
            ulong e = c.Entries[k];
            if (level > c.LeafLevel)
            {
                Assert.True(guest.Source.TryAllocate(out ulong next));
                e |= next;
                space.Table(table)[index] = e;
                space.Table(table)[index ^ 1] = c.Decoys[k];   // a neighbour the walk must not use
                table = next;
            }
            else
            {
                space.Table(table)[index] = e;
                space.Table(table)[index ^ 1] = c.Decoys[k];
            }
        }

        byte[] before = guest.Memory.ToArray();
        var expected = ReferenceWalk.Run((t, i) => space.Table(t)[i], space.Root, c.Levels, c.Va, c.Access, c.Cpu);
        // Expected memory after: A in every entry used, D in the leaf on a write, only on success.
        byte[] after = (byte[])before.Clone();
        if (expected.Ok)
        {
            for (int u = 0; u < expected.Used.Count; u++)
            {
                var (t, i) = expected.Used[u];
                int offset = (int)(t - GuestSpace.GuestBase) + i * 8;
                ulong v = BitConverter.ToUInt64(after, offset) | Pte.Accessed;
                if (u == expected.Used.Count - 1 && c.Access == AccessType.Write)
                    v |= Pte.Dirty;
                BitConverter.TryWriteBytes(after.AsSpan(offset), v);
            }
        }

        TranslateResult actual = space.Translate(c.Va, c.Access, c.Cpu);
        Assert.Equal(expected.Ok, actual.Success);
        Assert.Equal(expected.Error, actual.ErrorCode);
        Assert.Equal(expected.FaultLevel, actual.FaultLevel);
        if (expected.Ok)
            Assert.Equal((expected.Pa, expected.Size), (actual.PhysicalAddress, actual.Size));
        byte[] now = guest.Memory.ToArray();
        if (!now.AsSpan().SequenceEqual(after))
        {
            int firstDiff = now.AsSpan().CommonPrefixLength(after) / 8 * 8;
            Assert.Fail($"table memory at guest-physical 0x{GuestSpace.GuestBase + (ulong)firstDiff:X}: expected 0x{BitConverter.ToUInt64(after, firstDiff):X}, got 0x{BitConverter.ToUInt64(now, firstDiff):X}");
        }

        if (expected.Ok)
            Interlocked.Increment(ref s_ok);
        if (expected.Ok && expected.Size != PageSize.Size4K)
            Interlocked.Increment(ref s_large);
        if (!expected.Ok && (expected.Error & PageFaultError.Present) == 0)
            Interlocked.Increment(ref s_notPresent);
        if ((expected.Error & PageFaultError.Reserved) != 0)
            Interlocked.Increment(ref s_reserved);
        if ((expected.Error & PageFaultError.ProtectionKey) != 0)
            Interlocked.Increment(ref s_pk);
        else if (!expected.Ok && (expected.Error & (PageFaultError.Present | PageFaultError.Reserved)) == PageFaultError.Present)
            Interlocked.Increment(ref s_protection);
    }
}
