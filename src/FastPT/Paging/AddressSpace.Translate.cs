using System.Runtime.CompilerServices;
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
    /// as KVM's walker does. On failure returns the #PF error code; a link to a table outside
    /// the source's memory (a guest's hostile entry) ends the walk with
    /// <see cref="TranslateResult.OutsideGuestMemory"/>, touching nothing.
    /// </summary>
    public TranslateResult Translate(ulong va, AccessType access, in CpuMode cpu, bool updateAccessedDirty = true) =>
        Walk(va, access, in cpu, updateAccessedDirty, out _);

    /// <summary>
    /// <see cref="Translate(ulong, AccessType, in CpuMode, bool)"/> of many addresses, each
    /// result as a single call would give it (the same A/D updates, in any order: they never
    /// change an outcome). The walks run eight abreast, a level at a time, so their cache
    /// misses overlap instead of queueing. Non-canonical addresses are refused before any walk.
    /// </summary>
    public void Translate(ReadOnlySpan<ulong> addresses, AccessType access, in CpuMode cpu, Span<TranslateResult> results,
        bool updateAccessedDirty = true)
    {
        if (results.Length < addresses.Length)
            throw new ArgumentException($"{results.Length} results for {addresses.Length} addresses: give one result per address", nameof(results));
        Walk(addresses, access, in cpu, results, null, updateAccessedDirty);
    }

    /// <summary>The batch walk; with <paramref name="rights"/>, what each successful walk combined (for TLB fills).</summary>
    [SkipLocalsInit]
    internal void Walk(ReadOnlySpan<ulong> addresses, AccessType access, in CpuMode cpu, Span<TranslateResult> results,
        WalkRights* rights, bool updateAccessedDirty)
    {
        foreach (ulong va in addresses)
        {
            if (!IsCanonical(va))
                ThrowNotCanonical(va);
        }
        if (addresses.IsEmpty)
            return;
        const int Lanes = 8;
        var rules = new WalkRules(in cpu, access);
        ulong** tables = stackalloc ulong*[Lanes];
        ulong* ands = stackalloc ulong[Lanes];
        ulong* ors = stackalloc ulong[Lanes];
        nint* used = stackalloc nint[Lanes * 5];
        ulong rootPa = Root;
        ulong* root = TryTable(rootPa);
        ref TranslateResult result0 = ref results[0];
        for (int start = 0; start < addresses.Length; start += Lanes)
        {
            int count = Math.Min(Lanes, addresses.Length - start);
            ref TranslateResult r = ref Unsafe.Add(ref result0, start);
            if (root == null)
            {
                for (int i = 0; i < count; i++)
                    Unsafe.Add(ref r, i) = TranslateResult.Outside(rootPa, Levels);
                continue;
            }
            ReadOnlySpan<ulong> group = addresses.Slice(start, count);
            for (int i = 0; i < count; i++)
            {
                tables[i] = root;
                ands[i] = ulong.MaxValue;
                ors[i] = 0;
            }
            uint active = (1u << count) - 1;
            for (int level = Levels; active != 0; level--)
            {
                // One entry per lane and level: the lanes' loads are independent, so they overlap.
                for (uint m = active; m != 0; m &= m - 1)
                {
                    int i = System.Numerics.BitOperations.TrailingZeroCount(m);
                    ulong va = group[i];
                    ulong* slot = tables[i] + Index(va, level);
                    ulong entry = Volatile.Read(ref *slot);
                    used[i * 5 + level - 1] = (nint)slot;
                    bool leaf = IsLeaf(entry, level);
                    TranslateResult done;
                    if ((entry & Pte.Present) == 0)
                        done = TranslateResult.Fault(rules.BaseError, level);
                    else if ((entry & rules.Reserved(level, leaf)) != 0)
                        done = TranslateResult.Fault(rules.BaseError | PageFaultError.Present | PageFaultError.Reserved, level);
                    else
                    {
                        ands[i] &= entry;
                        ors[i] |= entry;
                        if (leaf)
                        {
                            done = Finish(va, access, in cpu, ands[i], ors[i], entry, level, used + i * 5, updateAccessedDirty);
                            if (rights != null)
                                rights[start + i] = new WalkRights(ands[i], ors[i], entry, level);
                        }
                        else
                        {
                            ulong next = entry & Pte.PfnMask;
                            ulong* t = TryTable(next);
                            if (t != null)
                            {
                                tables[i] = t;
                                continue;
                            }
                            done = TranslateResult.Outside(next, level - 1);
                        }
                    }
                    Unsafe.Add(ref r, i) = done;
                    active &= ~(1u << i);
                }
            }
        }
    }

    /// <summary>The walk, also giving what it combined over the levels (a TLB fills its entry from it).</summary>
    [SkipLocalsInit]
    internal TranslateResult Walk(ulong va, AccessType access, in CpuMode cpu, bool updateAccessedDirty, out WalkRights rights)
    {
        if (!IsCanonical(va))
            ThrowNotCanonical(va);
        rights = default;
        var rules = new WalkRules(in cpu, access);
        ulong* table = TryTable(Root);
        if (table == null)
            return TranslateResult.Outside(Root, Levels);
        UsedSlots used = default;
        ulong and = ulong.MaxValue, or = 0, entry;
        int level = Levels;
        for (; ; level--)
        {
            ulong* slot = table + Index(va, level);
            entry = Volatile.Read(ref *slot);
            if ((entry & Pte.Present) == 0)
                return TranslateResult.Fault(rules.BaseError, level);
            used[level - 1] = (nint)slot;
            bool leaf = IsLeaf(entry, level);
            if ((entry & rules.Reserved(level, leaf)) != 0)
                return TranslateResult.Fault(rules.BaseError | PageFaultError.Present | PageFaultError.Reserved, level);
            and &= entry;
            or |= entry;
            if (leaf)
                break;
            ulong next = entry & Pte.PfnMask;
            table = TryTable(next);
            if (table == null)
                return TranslateResult.Outside(next, level - 1);
        }
        rights = new WalkRights(and, or, entry, level);
        return Finish(va, access, in cpu, and, or, entry, level, (nint*)Unsafe.AsPointer(ref used[0]), updateAccessedDirty);
    }

    /// <summary>The end of a walk that reached a leaf: the access check, A/D, the address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TranslateResult Finish(ulong va, AccessType access, in CpuMode cpu, ulong and, ulong or, ulong leaf, int level,
        nint* used, bool updateAccessedDirty)
    {
        PageFaultError denied = Denied(access, in cpu, and, or, leaf);
        if (denied != PageFaultError.None)
            return TranslateResult.Fault(denied);
        if (updateAccessedDirty)
        {
            if ((and & Pte.Accessed) == 0)
            {
                for (int l = Levels; l >= level; l--)
                {
                    ulong* slot = (ulong*)used[l - 1];
                    if ((*slot & Pte.Accessed) == 0)
                        Interlocked.Or(ref *slot, Pte.Accessed);
                }
            }
            if (access == AccessType.Write && (leaf & Pte.Dirty) == 0)
                Interlocked.Or(ref *(ulong*)used[level - 1], Pte.Dirty);
        }
        ulong offset = (1UL << Shift(level)) - 1;
        return TranslateResult.Ok((leaf & Pte.PfnMask & ~offset) | (va & offset), level);
    }

    /// <summary>
    /// The #PF error code for an access to a translation with these rights (U/S and R/W
    /// ANDed over the levels, XD ORed, the leaf's protection key), or None when it is
    /// allowed: SDM 4.6 (CR0.WP, SMEP, SMAP with EFLAGS.AC) and 4.6.2 (protection keys).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static PageFaultError Denied(AccessType access, in CpuMode cpu, ulong and, ulong or, ulong leaf)
    {
        bool userOk = (and & Pte.User) != 0, writeOk = (and & Pte.Writable) != 0;
        bool noExec = cpu.Nxe && (or & Pte.NoExecute) != 0;
        bool write = access == AccessType.Write, fetch = access == AccessType.Execute;
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
            uint bits = cpu.Pkru >> (2 * Pte.ProtectionKey(leaf)) & 3;
            keyDenied = (bits & 1) != 0 || (write && (bits & 2) != 0 && (cpu.User || cpu.WriteProtect));
        }
        if (!denied && !keyDenied)
            return PageFaultError.None;
        return WalkRules.ErrorBits(access, in cpu) | PageFaultError.Present | (keyDenied ? PageFaultError.ProtectionKey : 0);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotCanonical(ulong va) =>
        throw new ArgumentOutOfRangeException(nameof(va), $"0x{va:X} is not canonical: the CPU raises #GP, not #PF");

    /// <summary>The slots a walk read, by level, for its A/D updates.</summary>
    [InlineArray(5)]
    private struct UsedSlots
    {
        private nint _slot;
    }
}

/// <summary>What a successful walk combined: entries ANDed (U/S, R/W, A) and ORed (XD) over the levels, the leaf and its level.</summary>
internal readonly record struct WalkRights(ulong And, ulong Or, ulong Leaf, int Level);

/// <summary>The checks of a walk that depend only on the mode and the access, worked out once per walk.</summary>
internal readonly struct WalkRules
{
    public readonly PageFaultError BaseError;
    private readonly ulong _common;  // every level: address bits at or above MAXPHYADDR, XD without NXE
    private readonly ulong _upper;   // PML4E/PML5E: PS, and bit 8 on AMD
    private readonly ulong _leaf1G;  // a PDPTE with PS: bits 13-29, and PS itself without 1 GiB pages

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public WalkRules(in CpuMode cpu, AccessType access)
    {
        BaseError = ErrorBits(access, in cpu);
        int m = cpu.MaxPhysicalAddressBits;
        _common = (m >= 52 ? 0 : (~0UL << m) & ((1UL << 52) - 1)) | (cpu.Nxe ? 0 : Pte.NoExecute);
        _upper = Pte.PageSize | (cpu.NonLeafBit8Reserved ? Pte.Global : 0);
        _leaf1G = Pte.Reserved1GLeaf | (cpu.Pages1G ? 0 : Pte.PageSize);
    }

    /// <summary>W/R, U/S and I/D of the error code: what the access was, whatever stopped it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageFaultError ErrorBits(AccessType access, in CpuMode cpu) =>
        (access == AccessType.Write ? PageFaultError.Write : 0)
        | (cpu.User ? PageFaultError.User : 0)
        | (access == AccessType.Execute && (cpu.Nxe || cpu.Smep) ? PageFaultError.InstructionFetch : 0);

    /// <summary>The bits that must be zero in a present entry at this level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Reserved(int level, bool leaf)
    {
        // AMD reserves bit 8 only in PML4Es and PML5Es; PDPTEs and PDEs ignore it (KVM once
        // reserved it in PDPEs too and dropped that in commit 5ecad245de2a).
        if (level >= 4)
            return _common | _upper;
        if (!leaf || level == 1)
            return _common;
        return _common | (level == 2 ? Pte.Reserved2MLeaf : _leaf1G);
    }
}
