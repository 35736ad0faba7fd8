using FastPT.Paging;

namespace FastPT.Tests.Paging;

/// <summary>
/// An independent, deliberately plain model of the x86-64 walk, written from the SDM rules
/// (4.5 access rights, 4.7 #PF error code, 4.8 A/D) as the brief states them, for the
/// property test of <see cref="AddressSpace.Translate"/>. It reads entries through a delegate
/// and reports which slots the walk used, so the test can predict the A/D updates.
/// </summary>
internal static class ReferenceWalk
{
    /// <summary>Outside: the table at Pa (level FaultLevel) is not in guest memory: no translation, no #PF.</summary>
    public sealed record Outcome(bool Ok, ulong Pa, PageSize Size, PageFaultError Error, int FaultLevel, List<(ulong Table, int Index)> Used, bool Outside = false);

    private static bool Bit(ulong v, int b) => ((v >> b) & 1) != 0;

    private static ulong Bits(int lo, int hi)
    {
        ulong m = 0;
        for (int b = lo; b <= hi; b++)
            m |= 1UL << b;
        return m;
    }

    public static Outcome Run(Func<ulong, int, ulong> read, ulong root, int levels, ulong va, AccessType access, CpuMode cpu) =>
        Run((table, index) => (ulong?)read(table, index), root, levels, va, access, cpu);

    /// <summary>The walk over memory that may not be there: read gives null for a table outside guest memory.</summary>
    public static Outcome Run(Func<ulong, int, ulong?> read, ulong root, int levels, ulong va, AccessType access, CpuMode cpu)
    {
        bool write = access == AccessType.Write, fetch = access == AccessType.Execute;
        uint access_bits = (write ? 2u : 0) | (cpu.User ? 4u : 0) | (fetch && (cpu.Nxe || cpu.Smep) ? 16u : 0);
        var used = new List<(ulong, int)>();
        Outcome Fault(uint bits, int level) => new(false, 0, default, (PageFaultError)bits, level, used);

        bool userAddress = true, writable = true, xd = false;
        ulong table = root, entry = 0;
        int level = levels;
        while (true)
        {
            int index = (int)((va >> (12 + 9 * (level - 1))) & 511);
            ulong? value = read(table, index);
            if (value is null)
                return new Outcome(false, table, default, PageFaultError.None, level, used, Outside: true);
            entry = value.Value;
            if (!Bit(entry, 0))
                return Fault(access_bits, level);                        // P=0: nothing else is looked at
            used.Add((table, index));
            bool leaf = level == 1 || (level <= 3 && Bit(entry, 7));

            ulong reserved = cpu.MaxPhysicalAddressBits < 52 ? Bits(cpu.MaxPhysicalAddressBits, 51) : 0;
            if (!cpu.Nxe)
                reserved |= 1UL << 63;
            if (level >= 4)
                reserved |= 1UL << 7;                                     // no PS in PML4E/PML5E
            if (level >= 4 && cpu.NonLeafBit8Reserved)
                reserved |= 1UL << 8;                                     // AMD
            if (leaf && level == 2)
                reserved |= Bits(13, 20);
            if (leaf && level == 3)
                reserved |= Bits(13, 29) | (cpu.Pages1G ? 0 : 1UL << 7);         // no 1 GiB pages: PS is reserved
            if ((entry & reserved) != 0)
                return Fault(access_bits | 1 | 8, level);

            userAddress = userAddress && Bit(entry, 2);
            writable = writable && Bit(entry, 1);
            xd = xd || Bit(entry, 63);
            if (leaf)
                break;
            table = entry & Bits(12, 51);
            level--;
        }

        bool executable = !(cpu.Nxe && xd);
        bool smapBlocks = !cpu.User && userAddress && cpu.Smap && !cpu.AlignmentCheck;
        bool denied;
        if (cpu.User)
        {
            denied = !userAddress
                || (write && !writable)
                || (fetch && !executable);
        }
        else if (fetch)
        {
            denied = !executable || (userAddress && cpu.Smep);
        }
        else if (write)
        {
            denied = smapBlocks || (cpu.WriteProtect && !writable);
        }
        else
        {
            denied = smapBlocks;
        }

        bool keyDenied = false;
        if (cpu.ProtectionKeys && userAddress && !fetch)
        {
            int key = (int)((entry >> 59) & 15);
            bool ad = Bit(cpu.Pkru, 2 * key), wd = Bit(cpu.Pkru, 2 * key + 1);
            keyDenied = ad || (write && wd && (cpu.User || cpu.WriteProtect));
        }
        if (denied || keyDenied)
            return Fault(access_bits | 1 | (keyDenied ? 32u : 0), 0);

        PageSize size = level == 1 ? PageSize.Size4K : level == 2 ? PageSize.Size2M : PageSize.Size1G;
        int pageBits = 12 + 9 * (level - 1);
        ulong pa = (entry & Bits(pageBits, 51)) | (va & Bits(0, pageBits - 1));
        return new Outcome(true, pa, size, PageFaultError.None, 0, used);
    }
}
