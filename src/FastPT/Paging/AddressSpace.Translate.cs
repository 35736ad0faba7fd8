using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Memory;

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
        Walk(va, new WalkRules(in cpu, access), updateAccessedDirty, null);

    /// <summary>
    /// <see cref="Translate(ulong, AccessType, in CpuMode, bool)"/> of many addresses, each
    /// result as a single call would give it (the same A/D updates, in any order: they never
    /// change an outcome). Upper levels read for one address may serve the next ones in the
    /// same 1 GiB, as the CPU's paging-structure caches serve its walks, and the next
    /// addresses' entries are prefetched. Non-canonical addresses are refused before any walk.
    /// </summary>
    public void Translate(ReadOnlySpan<ulong> addresses, AccessType access, in CpuMode cpu, Span<TranslateResult> results,
        bool updateAccessedDirty = true)
    {
        if (results.Length < addresses.Length)
            throw new ArgumentException($"{results.Length} results for {addresses.Length} addresses: give one result per address", nameof(results));
        Walk(addresses, new WalkRules(in cpu, access), results, null, updateAccessedDirty);
    }

    /// <summary>
    /// One walk; with <paramref name="rights"/>, what it combined over the levels (a TLB fills
    /// its entry from it); with <paramref name="pdCache"/>, a paging-structure cache entry a
    /// TLB keeps (used when it serves va's 1 GiB, refilled by a successful walk that passes a
    /// page directory; the owner drops it whenever a TLB flush is owed).
    /// </summary>
    internal TranslateResult Walk(ulong va, in WalkRules rules, bool updateAccessedDirty, WalkRights* rights, PageDirectoryCache* pdCache = null)
    {
        if (!IsCanonical(va))
            ThrowNotCanonical(va);
        if (_direct)
            return Walk(new DirectLookup(), va, in rules, updateAccessedDirty, rights, pdCache);
        if (_guest != null)
            return Walk(new GuestLookup(_guest.Snapshot), va, in rules, updateAccessedDirty, rights, pdCache);
        return Walk(new SourceLookup(_tables), va, in rules, updateAccessedDirty, rights, pdCache);
    }

    /// <summary>The batch walk; with <paramref name="rights"/>, what each successful walk combined (for TLB fills).</summary>
    internal void Walk(ReadOnlySpan<ulong> addresses, in WalkRules rules, Span<TranslateResult> results, WalkRights* rights, bool updateAccessedDirty)
    {
        foreach (ulong va in addresses)
        {
            if (!IsCanonical(va))
                ThrowNotCanonical(va);
        }
        if (addresses.IsEmpty)
            return;
        fixed (ulong* vas = addresses)
        fixed (TranslateResult* r = results)
        {
            if (_direct)
                WalkBatch(new DirectLookup(), vas, addresses.Length, in rules, r, rights, updateAccessedDirty);
            else if (_guest != null)
                WalkBatch(new GuestLookup(_guest.Snapshot), vas, addresses.Length, in rules, r, rights, updateAccessedDirty);
            else
                WalkBatch(new SourceLookup(_tables), vas, addresses.Length, in rules, r, rights, updateAccessedDirty);
        }
    }

    // Never inlined: in a caller's body the walk's state would not stay in registers.
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private TranslateResult Walk<TLookup>(TLookup lookup, ulong va, in WalkRules rules, bool updateAccessedDirty, WalkRights* rights,
        PageDirectoryCache* pdCache)
        where TLookup : struct, ITableLookup
    {
        Unsafe.SkipInit(out Slots used);
        if (pdCache != null && pdCache->Key == va >> 30)
            return Down(lookup, va, pdCache->Table, 2, pdCache->And, pdCache->Or, in rules, ref used, 2, updateAccessedDirty, rights, null);
        ulong root = Root;
        ulong* table = lookup.Table(root);
        if (table == null)
            return TranslateResult.Outside(root, Levels);
        if (pdCache == null)
            return Down(lookup, va, table, Levels, ulong.MaxValue, 0, in rules, ref used, Levels, updateAccessedDirty, rights, null);
        // A paging-structure cache keeps only paths a translation went all the way through (A set above).
        var passed = new PageDirectoryCache { Key = ulong.MaxValue };
        var r = Down(lookup, va, table, Levels, ulong.MaxValue, 0, in rules, ref used, Levels, updateAccessedDirty, rights, &passed);
        if (r.Success && passed.Key != ulong.MaxValue)
            *pdCache = passed with { And = passed.And | Pte.Accessed };
        return r;
    }

    /// <summary>
    /// Walks the addresses in order, keeping, as the CPU's paging-structure caches do, the
    /// path to the last page directory: an address in the same 1 GiB starts its walk there,
    /// and the entry the address eight places ahead will need is prefetched, so cache misses
    /// overlap instead of queueing.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WalkBatch<TLookup>(TLookup lookup, ulong* vas, int count, in WalkRules rules,
        TranslateResult* results, WalkRights* rights, bool updateAccessedDirty)
        where TLookup : struct, ITableLookup
    {
        const int Ahead = 8;
        Unsafe.SkipInit(out Slots used);
        int levels = Levels;
        ulong rootPa = Root;
        ulong* root = lookup.Table(rootPa);
        var pd = new PageDirectoryCache { Key = ulong.MaxValue };
        for (int i = 0; i < count; i++)
        {
            if (i + Ahead < count && System.Runtime.Intrinsics.X86.Sse.IsSupported)
            {
                ulong ahead = vas[i + Ahead];
                if (ahead >> 30 == pd.Key && (pd.And & Pte.Accessed) != 0)
                {
                    ulong pde = pd.Table[Index(ahead, 2)];
                    if ((pde & (Pte.Present | Pte.PageSize)) == Pte.Present && lookup.Table(pde & Pte.PfnMask) is var pt && pt != null)
                        System.Runtime.Intrinsics.X86.Sse.Prefetch0(pt + Index(ahead, 1));
                }
            }
            ulong va = vas[i];
            WalkRights* r = rights == null ? null : rights + i;
            // The cached path serves only when its entries have A already: their slots are not kept.
            if (va >> 30 == pd.Key && (pd.And & Pte.Accessed) != 0)
                results[i] = Down(lookup, va, pd.Table, 2, pd.And, pd.Or, in rules, ref used, 2, updateAccessedDirty, r, null);
            else if (root == null)
                results[i] = TranslateResult.Outside(rootPa, levels);
            else
                results[i] = Down(lookup, va, root, levels, ulong.MaxValue, 0, in rules, ref used, levels, updateAccessedDirty, r, &pd);
        }
    }

    /// <summary>
    /// The walk from <paramref name="table"/> at <paramref name="level"/> down, with what the
    /// levels above combined; notes the page directory it passes in <paramref name="pd"/>.
    /// A/D go into the slots of <paramref name="top"/> and below (those above were set when a
    /// cached path was kept).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TranslateResult Down<TLookup>(TLookup lookup, ulong va, ulong* table, int level, ulong and, ulong or, in WalkRules rules,
        ref Slots used, int top, bool updateAccessedDirty, WalkRights* rights, PageDirectoryCache* pd)
        where TLookup : struct, ITableLookup
    {
        ulong entry;
        for (; ; level--)
        {
            ulong* slot = table + Index(va, level);
            entry = Volatile.Read(ref *slot);
            used[level - 1] = (nint)slot;
            if ((entry & Pte.Present) == 0)
                return TranslateResult.Fault(rules.BaseError, level);
            bool leaf = IsLeaf(entry, level);
            if ((entry & rules.Reserved(level, leaf)) != 0)
                return TranslateResult.Fault(rules.BaseError | PageFaultError.Present | PageFaultError.Reserved, level);
            and &= entry;
            or |= entry;
            if (leaf)
                break;
            ulong next = entry & Pte.PfnMask;
            table = lookup.Table(next);
            if (table == null)
                return TranslateResult.Outside(next, level - 1);
            if (level == 3 && pd != null)
                *pd = new PageDirectoryCache { Key = va >> 30, Table = table, And = and, Or = or };
        }
        if (rights != null)
            *rights = new WalkRights(and, or, entry, level);
        PageFaultError denied = rules.Check(and, or, entry);
        if (denied != PageFaultError.None)
            return TranslateResult.Fault(denied);
        if (updateAccessedDirty && ((and & Pte.Accessed) == 0 || (rules.Write && (entry & Pte.Dirty) == 0)))
            SetAccessedDirty(rules.Write, entry, top, level, ref used);
        ulong offset = (1UL << Shift(level)) - 1;
        return TranslateResult.Ok((entry & Pte.PfnMask & ~offset) | (va & offset), level);
    }

    /// <summary>A in every entry the walk used that lacks it, D in the leaf on a write: locked ORs, as the CPU does.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SetAccessedDirty(bool write, ulong leaf, int top, int level, ref Slots used)
    {
        for (int l = top; l >= level; l--)
        {
            ulong* slot = (ulong*)used[l - 1];
            if ((*slot & Pte.Accessed) == 0)
                Interlocked.Or(ref *slot, Pte.Accessed);
        }
        if (write && (leaf & Pte.Dirty) == 0)
            Interlocked.Or(ref *(ulong*)used[level - 1], Pte.Dirty);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotCanonical(ulong va) =>
        throw new ArgumentOutOfRangeException(nameof(va), $"0x{va:X} is not canonical: the CPU raises #GP, not #PF");

    /// <summary>The slots a walk read, by level, for its A/D updates.</summary>
    [InlineArray(5)]
    private struct Slots
    {
        private nint _slot;
    }

    /// <summary>
    /// How a walk finds the table a link names; a struct per table source, so the JIT makes
    /// one lean walk for each (no interface call per level).
    /// </summary>
    internal interface ITableLookup
    {
        ulong* Table(ulong physical);
    }

    /// <summary>Native tables: the physical address is the pointer.</summary>
    private readonly struct DirectLookup : ITableLookup
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong* Table(ulong physical) => (ulong*)physical;
    }

    /// <summary>Guest tables: checked against the regions of guest RAM as they were when the walk began.</summary>
    private readonly struct GuestLookup(GuestMemoryRegion[] regions) : ITableLookup
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong* Table(ulong physical)
        {
            foreach (var r in regions)
            {
                ulong offset = physical - r.GuestPhysical; // table addresses come 4 KiB-aligned
                if (offset < r.Size)
                    return (ulong*)((byte*)r.Host + offset);
            }
            return null;
        }
    }

    /// <summary>Any other source, through its checked lookup.</summary>
    private readonly struct SourceLookup(ITableSource source) : ITableLookup
    {
        public ulong* Table(ulong physical) => source.TryTable(physical);
    }
}

/// <summary>
/// A paging-structure cache entry: the page directory that serves one 1 GiB of addresses, and
/// what the entries above it combined (as the CPU's PDPTE cache keeps them, SDM 4.10.3).
/// </summary>
internal unsafe struct PageDirectoryCache
{
    public ulong Key;     // va >> 30 of the 1 GiB it serves; ulong.MaxValue: none
    public ulong* Table;
    public ulong And, Or;
}

/// <summary>What a successful walk combined: entries ANDed (U/S, R/W, A) and ORed (XD) over the levels, the leaf and its level.</summary>
internal readonly record struct WalkRights(ulong And, ulong Or, ulong Leaf, int Level);

/// <summary>
/// Everything a walk checks that depends only on the mode and the access, worked out once:
/// the reserved bits per kind of entry, and the access rules as masks: bits every entry must
/// have (U/S, R/W), bits no entry may have (XD), whether a user page is refused (SMEP, SMAP),
/// whether protection keys apply.
/// </summary>
internal readonly struct WalkRules
{
    public readonly PageFaultError BaseError;
    public readonly ulong Common;  // every entry: address bits at or above MAXPHYADDR, XD without NXE
    public readonly ulong Upper;   // PML4E/PML5E: the common bits, PS, and bit 8 on AMD
    public readonly ulong Leaf2M;  // a PDE with PS: the common bits and bits 13-20
    public readonly ulong Leaf1G;  // a PDPTE with PS: the common bits, bits 13-29, and PS itself without 1 GiB pages
    public readonly bool Write;
    private readonly ulong _requireAnd;     // U/S and R/W every level must grant
    private readonly ulong _forbidOr;       // XD for a fetch with NXE
    private readonly ulong _refuseUser;     // U/S, when SMEP (fetch) or SMAP (data) refuses user pages at CPL 0-2
    private readonly bool _keys;            // a data access with CR4.PKE: PKRU decides for user pages
    private readonly uint _keyBits;         // which PKRU bits refuse it: AD, and WD for a write that WD governs
    private readonly uint _pkru;

    public WalkRules(in CpuMode cpu, AccessType access)
    {
        if ((uint)access > (uint)AccessType.Execute)
            throw new ArgumentOutOfRangeException(nameof(access), access, "an access is Read, Write or Execute");
        bool write = access == AccessType.Write, fetch = access == AccessType.Execute;
        Write = write;
        BaseError = (write ? PageFaultError.Write : 0) | (cpu.User ? PageFaultError.User : 0)
            | (fetch && (cpu.Nxe || cpu.Smep) ? PageFaultError.InstructionFetch : 0);
        int m = cpu.MaxPhysicalAddressBits;
        Common = (m >= 52 ? 0 : (~0UL << m) & ((1UL << 52) - 1)) | (cpu.Nxe ? 0 : Pte.NoExecute);
        // AMD reserves bit 8 only in PML4Es and PML5Es; PDPTEs and PDEs ignore it (KVM once
        // reserved it in PDPEs too and dropped that in commit 5ecad245de2a).
        Upper = Common | Pte.PageSize | (cpu.NonLeafBit8Reserved ? Pte.Global : 0);
        Leaf2M = Common | Pte.Reserved2MLeaf;
        Leaf1G = Common | Pte.Reserved1GLeaf | (cpu.Pages1G ? 0 : Pte.PageSize);
        // SDM 4.6: at CPL 3 every level must allow user access (and writes); at CPL 0-2 writes
        // need R/W only with CR0.WP, fetches from user pages fault with SMEP, data accesses to
        // user pages with SMAP unless EFLAGS.AC.
        _requireAnd = (cpu.User ? Pte.User : 0) | (write && (cpu.User || cpu.WriteProtect) ? Pte.Writable : 0);
        _forbidOr = fetch && cpu.Nxe ? Pte.NoExecute : 0;
        _refuseUser = !cpu.User && (fetch ? cpu.Smep : cpu.Smap && !cpu.AlignmentCheck) ? Pte.User : 0;
        _keys = cpu.ProtectionKeys && !fetch;
        _keyBits = write && (cpu.User || cpu.WriteProtect) ? 3u : 1u;
        _pkru = cpu.Pkru;
    }

    /// <summary>The bits that must be zero in a present entry at this level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Reserved(int level, bool leaf) =>
        level >= 4 ? Upper : !leaf || level == 1 ? Common : level == 2 ? Leaf2M : Leaf1G;

    /// <summary>
    /// The #PF error code for this access to a translation with these rights (U/S and R/W
    /// ANDed over the levels, XD ORed, the leaf's protection key), or None when it is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageFaultError Check(ulong and, ulong or, ulong leaf)
    {
        ulong denied = (~and & _requireAnd) | (or & _forbidOr) | (and & _refuseUser);
        // SDM 4.6.2: protection keys guard data accesses to user-mode addresses, at any CPL.
        uint keyDenied = _keys && (and & Pte.User) != 0 ? _pkru >> (2 * Pte.ProtectionKey(leaf)) & _keyBits : 0;
        if ((denied | keyDenied) == 0)
            return PageFaultError.None;
        return BaseError | PageFaultError.Present | (keyDenied != 0 ? PageFaultError.ProtectionKey : 0);
    }
}
