using FastPT.Entries;

namespace FastPT.Paging;

public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// The hardware walk (SDM 4.5-4.8): follows va through every level, checks reserved
    /// bits, combines U/S, R/W and XD over all levels, applies CR0.WP, SMEP, SMAP/AC and
    /// protection keys for the access, and on success sets A in every entry used and D in
    /// the leaf on a write (with locked ORs, as the CPU does, so concurrent walkers and
    /// table updates lose nothing). A/D are set only when the whole translation succeeds,
    /// as KVM's walker does. On failure returns the #PF error code.
    /// </summary>
    public TranslateResult Translate(ulong va, AccessType access, in CpuMode cpu, bool updateAccessedDirty = true)
    {
        bool write = access == AccessType.Write;
        bool fetch = access == AccessType.Execute;
        var baseError = (write ? PageFaultError.Write : 0)
            | (cpu.User ? PageFaultError.User : 0)
            | (fetch && (cpu.Nxe || cpu.Smep) ? PageFaultError.InstructionFetch : 0);
        if (!IsCanonical(va))
            throw new ArgumentOutOfRangeException(nameof(va), $"0x{va:X} is not canonical: the CPU raises #GP, not #PF");

        ulong highReserved = cpu.MaxPhysicalAddressBits >= 52 ? 0 : (~0UL << cpu.MaxPhysicalAddressBits) & ((1UL << 52) - 1);
        ulong nxReserved = cpu.Nxe ? 0 : Pte.NoExecute;
        Span<nint> used = stackalloc nint[5];
        bool userOk = true, writeOk = true, noExec = false;
        ulong* table = RootTable;
        int level = Levels;
        ulong entry;
        for (; ; level--)
        {
            ulong* slot = table + Index(va, level);
            entry = System.Threading.Volatile.Read(ref *slot);
            if ((entry & Pte.Present) == 0)
                return TranslateResult.Fault(baseError, level);
            used[level - 1] = (nint)slot;
            bool leaf = IsLeaf(entry, level);
            if ((entry & ReservedBits(level, leaf, highReserved, nxReserved, cpu.NonLeafBit8Reserved)) != 0)
                return TranslateResult.Fault(baseError | PageFaultError.Present | PageFaultError.Reserved, level);
            userOk &= (entry & Pte.User) != 0;
            writeOk &= (entry & Pte.Writable) != 0;
            noExec |= cpu.Nxe && (entry & Pte.NoExecute) != 0;
            if (leaf)
                break;
            table = Table(entry & Pte.PfnMask);
        }

        bool denied = access switch
        {
            AccessType.Execute => noExec || (cpu.User ? !userOk : cpu.Smep && userOk),
            AccessType.Write => cpu.User
                ? !userOk || !writeOk
                : (!writeOk && cpu.WriteProtect) || (userOk && cpu.Smap && !cpu.AlignmentCheck),
            _ => cpu.User ? !userOk : userOk && cpu.Smap && !cpu.AlignmentCheck,
        };
        // Protection keys guard data accesses to user-mode addresses, at any CPL.
        bool keyDenied = false;
        if (cpu.ProtectionKeys && userOk && !fetch)
        {
            uint bits = cpu.Pkru >> (2 * Pte.ProtectionKey(entry)) & 3;
            keyDenied = (bits & 1) != 0 || (write && (bits & 2) != 0 && (cpu.User || cpu.WriteProtect));
        }
        if (denied || keyDenied)
            return TranslateResult.Fault(baseError | PageFaultError.Present | (keyDenied ? PageFaultError.ProtectionKey : 0));

        if (updateAccessedDirty)
        {
            for (int l = Levels; l >= level; l--)
            {
                ulong* slot = (ulong*)used[l - 1];
                if ((*slot & Pte.Accessed) == 0)
                    System.Threading.Interlocked.Or(ref *slot, Pte.Accessed);
            }
            if (write && (entry & Pte.Dirty) == 0)
                System.Threading.Interlocked.Or(ref *(ulong*)used[level - 1], Pte.Dirty);
        }
        var size = (PageSize)(level - 1);
        ulong offsetMask = size.Bytes() - 1;
        ulong frameMask = level switch { 1 => Pte.PfnMask, 2 => Pte.Pfn2MMask, _ => Pte.Pfn1GMask };
        return new TranslateResult(true, (entry & frameMask) | (va & offsetMask), size, PageFaultError.None, 0);
    }

    /// <summary>The bits that must be zero in a present entry at this level.</summary>
    private ulong ReservedBits(int level, bool leaf, ulong highReserved, ulong nxReserved, bool nonLeafBit8)
    {
        ulong r = highReserved | nxReserved;
        if (level >= 4)
            r |= Pte.PageSize; // no leaves above 1 GiB
        if (leaf && level == 2)
            r |= Pte.Reserved2MLeaf;
        else if (leaf && level == 3)
            r |= Pte.Reserved1GLeaf;
        // AMD reserves bit 8 only in PML4Es and PML5Es; PDPTEs and PDEs ignore it (KVM
        // once reserved it in PDPEs too and dropped that in commit 5ecad245de2a).
        if (nonLeafBit8 && level >= 4)
            r |= Pte.Global;
        return r;
    }
}
