using System.Buffers.Binary;

namespace FastPT.Fuzz;

/// <summary>
/// Hand-made starting inputs for the guest-tables target (format: docs/fuzzing.md, "The
/// guest-tables input"): real hierarchies with 4 KiB, 2 MiB and 1 GiB leaves, links into holes
/// and back to the root, in 4- and 5-level paging, and every operation over them once.
/// </summary>
internal static class GuestTablesSeeds
{
    // Entry flags: P|RW|US|A|D for leaves and links; PS for huge leaves.
    private const ushort Link = 0x67, Leaf = 0x67, Huge = 0xE7, ReadOnlyLeaf = 0x25;

    public static void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var (name, bytes) in All())
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
    }

    private static IEnumerable<(string, byte[])> All()
    {
        yield return ("four-level-mixed-leaves", Build(levels: 4, pool: 2, Hierarchy(levels: 4), EveryOp(0)));
        yield return ("five-level-mixed-leaves", Build(levels: 5, pool: 4, Hierarchy(levels: 5), EveryOp(0)));
        yield return ("loops-and-holes", Build(levels: 4, pool: 1,
        [
            W(0, 0, Link, 0, fill: true),             // every PML4 entry links back to the root
            W(0, 5, Link, 0xE3),                      // a link into a hole
            W(0, 6, Link, 0xE2),                      // a link to the guard page after the first region
            W(1, 0, Huge, 0xF0, 0x040000),            // a 1 GiB leaf where PS is reserved (level 4 reached by the loop)
            W(2, 0, Link, 16),                        // a link to the region ending at 2^52
            W(16, 0, Leaf | 0x1000, 17, fill: true, consecutive: true),
        ], EveryOp(0)));
        yield return ("upper-half-and-reserved-bits", Build(levels: 4, pool: 2,
        [
            W(0, 511, Link, 1),
            W(1, 511, Link, 2),
            W(2, 511, Huge | 0x4000, 0xF0, 0x000200, extraLow: 3), // a 2 MiB leaf with a reserved bit
            W(2, 510, Link, 3),
            W(3, 0, Leaf | 0x2000, 5, fill: true, consecutive: true, extraLow: 8), // above a small MAXPHYADDR
            W(3, 7, ReadOnlyLeaf | 0x8000, 6, extraLow: 5),                         // a protection key
        ], EveryOp(0xFFFF_FFFF_FFC0_0000)));
    }

    /// <summary>Root at page 0: PML4[0] → PDPT (page 1); PDPT[0] → PD (2), PDPT[1] a 1 GiB leaf; PD[0] → PT (3), PD[1] a 2 MiB leaf, PD[2] → the root; PT full of 4 KiB leaves.</summary>
    private static byte[][] Hierarchy(int levels)
    {
        var w = new List<byte[]>();
        int top = 0;
        if (levels == 5)
        {
            w.Add(W(0, 0, Link, 7));
            top = 7;
        }
        w.Add(W(top, 0, Link, 1));
        w.Add(W(top, 1, Link, 0xE3));
        w.Add(W(1, 0, Link, 2));
        w.Add(W(1, 1, Huge, 0xF0, 0x040000));
        w.Add(W(2, 0, Link, 3));
        w.Add(W(2, 1, Huge, 0xF0, 0x000200));
        w.Add(W(2, 2, Link, 0));
        w.Add(W(3, 0, Leaf, 4, fill: true, consecutive: true));
        w.Add(W(3, 9, ReadOnlyLeaf | 0x1000, 5));
        return [.. w];
    }

    /// <summary>Every operation once near <paramref name="va"/>, with and without shared tables and two threads.</summary>
    private static byte[][] EveryOp(ulong va) =>
    [
        Op(0, 0x00, 0x87, 0, va + 0x1234, 0),
        Op(0, 0x08, 0x03, 0, va + 0x20_1000, 0),
        Op(0, 0x10, 0x05, 0, va + 0x4000_0000, 0),
        Op(1, 0x08, 0x87, 0, va, 0x0028),
        Op(2, 0x00, 0x87, 0, va + 0x3000, 0),
        Op(3, 0x08, 0x87, 0, va, 0x0048),
        Op(3, 0x28, 0x86, 0, va + 0x20_0000, 0x0110),
        Op(5, 0x20, 0, 0, va, 0x0400),
        Op(5, 0x63, 0, 0, va, 0x0800),
        Op(6, 0x21, 0, 0, va, 0x1000),
        Op(6, 0xC2, 0, 0, va, 0x0200),
        Op(8, 0x02, 0, 0, va, 0x0600),
        Op(8, 0x64, 0, 0, va + 0x1000, 0x0100),
        Op(9, 0x20, 0, 0, va, 0x0210),
        Op(9, 0x60, 0, 0, va, 0x0205),
        Op(10, 0, 0, 0, 0, 0),
        Op(7, 0x00, 0, 0, va + 0x8000, 0x0004),
        Op(7, 0x23, 0, 0, va, 0x8000),
        Op(0, 0x08, 0x87, 0, va + 0x9000, 0),
        Op(4, 0x00, 0, 0, 2, 0),
        Op(0, 0x00, 0x87, 0, va, 0),
        Op(4, 0x20, 0, 0, 3, 0),
    ];

    private static byte[] Build(int levels, int pool, byte[][] writes, byte[][] ops)
    {
        var s = new MemoryStream();
        int poolBits = pool switch { 0 => 0, 1 => 1, 2 => 2, _ => 3 };
        s.WriteByte((byte)((levels == 5 ? 1 : 0) | (poolBits << 1)));
        s.WriteByte(0);                        // the root: page 0
        s.Write([0, 0]);                       // CR3 bits 0..11
        s.WriteByte((byte)writes.Length);
        foreach (var w in writes)
            s.Write(w);
        foreach (var o in ops)
            s.Write(o);
        return s.ToArray();
    }

    private static byte[] W(int page, int slot, int flags, int target, uint extra = 0, bool fill = false, bool consecutive = false, int extraLow = 0)
    {
        var r = new byte[8];
        r[0] = (byte)(page | ((slot >> 8) << 5) | (fill ? 0x40 : 0) | (consecutive ? 0x80 : 0));
        r[1] = (byte)slot;
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(2), (ushort)flags);
        r[4] = (byte)target;
        extra |= (uint)extraLow;
        r[5] = (byte)extra;
        r[6] = (byte)(extra >> 8);
        r[7] = (byte)(extra >> 16);
        return r;
    }

    private static byte[] Op(int op, int walk, int cpuA, int cpuB, ulong va, int count)
    {
        var r = new byte[14];
        r[0] = (byte)op;
        r[1] = (byte)walk;
        r[2] = (byte)cpuA;
        r[3] = (byte)cpuB;
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(4), va);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(12), (ushort)count);
        return r;
    }
}
