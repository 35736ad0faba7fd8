using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Paging;

namespace FastPT.Tlb;

/// <summary>
/// A software TLB for an emulator's MMU, over one <see cref="AddressSpace"/> (one per vCPU;
/// not thread-safe). A hit is a tag compare; a miss is the hardware walk (A/D set as the CPU
/// sets them), whose translation is kept per 4 KiB page, per access kind and per privilege.
/// <para>
/// Like a hardware TLB it is not coherent with the tables by itself: whoever changes a
/// translation must invalidate it. FastPT's verbs say what to invalidate in their flush
/// plans (<see cref="M:FastPT.Tlb.SoftwareTlb.Invalidate(FastPT.Walk.FlushPlan)"/>); for tables the guest edits itself, the
/// guest's own INVLPG (<see cref="InvalidatePage"/>), MOV to CR3 (<see cref="WriteCr3"/>,
/// PCID-aware, global pages kept), INVPCID and CR4 writes do, with the SDM's rules.
/// </para>
/// <para>
/// What it keeps is what the CPU may keep: only translations that succeeded (faults always
/// walk again), write permission only once the leaf is dirty (the first write walks and sets
/// D, as the CPU does), the mode it was filled in (CPL and EFLAGS.AC only pick one of three
/// tables; any other change of <see cref="Mode"/> flushes).
/// </para>
/// </summary>
public sealed unsafe partial class SoftwareTlb
{
    private const int ModeTables = 3; // CPL 3; CPL 0-2; CPL 0-2 with SMAP in force (CR4.SMAP and EFLAGS.AC clear)
    private const ulong PageMask = ~0xFFFUL;

    private readonly AddressSpace _space;
    private readonly TlbEntry[] _entries; // pinned: ModeTables tables of _size entries
    private readonly TlbEntry* _base;
    private readonly int _mask;
    private TlbEntry* _table;  // the current mode's
    private ulong _context;    // tag bits 0..11 of non-global entries (1..4095); global entries carry 0
    private CpuMode _mode;
    private WalkRules _read, _write, _execute; // the mode's rules for each access, worked out when it is set
    // Per mode table, the accesses (bit 0 read, 1 write, 2 fetch) a translation allows, by its
    // rights: R/W and U/S of all levels, XD of any, D and the protection key of the leaf.
    private readonly byte[] _allowed = new byte[ModeTables * 256];
    private int _allowedAt;
    // Paging-structure caches: the page directory for a few 1 GiB regions, so a miss walks two
    // levels, not four. Dropped, all of them, by every invalidation (the SDM allows dropping more).
    private const int PdCaches = 8;
    private readonly PageDirectoryCache[] _pdCacheArray = GC.AllocateArray<PageDirectoryCache>(PdCaches, pinned: true);
    private readonly PageDirectoryCache* _pdCache;

    /// <param name="space">The tables to walk on a miss (for a guest, an attached space).</param>
    /// <param name="entriesPerMode">Entries per privilege table, a power of two (direct-mapped by page number).</param>
    public SoftwareTlb(AddressSpace space, CpuMode mode, int entriesPerMode = 1024)
    {
        ArgumentNullException.ThrowIfNull(space);
        if (entriesPerMode < 2 || !System.Numerics.BitOperations.IsPow2(entriesPerMode))
            throw new ArgumentOutOfRangeException(nameof(entriesPerMode), entriesPerMode, "entries per mode must be a power of two, at least 2");
        _space = space;
        _mask = entriesPerMode - 1;
        _entries = GC.AllocateArray<TlbEntry>(ModeTables * entriesPerMode, pinned: true);
        _base = (TlbEntry*)Unsafe.AsPointer(ref _entries[0]);
        _pcidContexts = new ushort[4096];
        _pdCache = (PageDirectoryCache*)Unsafe.AsPointer(ref _pdCacheArray[0]);
        _mode = mode;
        _table = _base + ModeTable(in mode) * entriesPerMode;
        SetRules();
        SetAllowed();
        FlushAll();
    }

    public AddressSpace Space => _space;

    public int EntriesPerMode => _mask + 1;

    /// <summary>
    /// The CPU state translations are checked against (CPL, CR0.WP, CR4.SMEP/SMAP/PKE,
    /// EFER.NXE, EFLAGS.AC, PKRU). A change of CPL or AC switches tables; any other change
    /// flushes everything, as the TLB cannot know which cached rights it alters.
    /// </summary>
    public CpuMode Mode
    {
        get => _mode;
        set
        {
            bool flush = Unprivileged(in value) != Unprivileged(in _mode);
            _mode = value;
            _table = _base + ModeTable(in value) * (_mask + 1);
            SetRules();
            if (flush)
            {
                SetAllowed();
                FlushAll();
            }
        }
    }

    private void SetRules()
    {
        _read = new WalkRules(in _mode, AccessType.Read);
        _write = new WalkRules(in _mode, AccessType.Write);
        _execute = new WalkRules(in _mode, AccessType.Execute);
        _allowedAt = ModeTable(in _mode) * 256;
    }

    /// <summary>The allowed accesses of every kind of translation, for each mode table, by the walk's own rules.</summary>
    private void SetAllowed()
    {
        for (int table = 0; table < ModeTables; table++)
        {
            var m = _mode with { User = table == 0, AlignmentCheck = table == 1 };
            var read = new WalkRules(in m, AccessType.Read);
            var write = new WalkRules(in m, AccessType.Write);
            var fetch = new WalkRules(in m, AccessType.Execute);
            for (int sig = 0; sig < 256; sig++)
            {
                ulong and = ((sig & 1) != 0 ? Pte.Writable : 0) | ((sig & 2) != 0 ? Pte.User : 0);
                ulong or = (sig & 4) != 0 ? Pte.NoExecute : 0;
                ulong leaf = ((sig & 8) != 0 ? Pte.Dirty : 0) | ((ulong)(sig >> 4) << Pte.PkeyShift);
                _allowed[table * 256 + sig] = (byte)(
                    (read.Check(and, or, leaf) == PageFaultError.None ? 1 : 0)
                    | ((sig & 8) != 0 && write.Check(and, or, leaf) == PageFaultError.None ? 2 : 0)
                    | (fetch.Check(and, or, leaf) == PageFaultError.None ? 4 : 0));
            }
        }
    }

    /// <summary>The index of a translation's rights in the allowed-access tables.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Signature(ulong and, ulong or, ulong leaf) =>
        (int)((and >> 1) & 3) | (int)(or >> 63) << 2 | (int)((leaf >> 6) & 1) << 3 | Pte.ProtectionKey(leaf) << 4;

    private ref readonly WalkRules Rules(AccessType access) =>
        ref access == AccessType.Read ? ref _read : ref access == AccessType.Write ? ref _write : ref _execute;

    /// <summary>
    /// Translates va for the access in the current <see cref="Mode"/>: from the TLB when it
    /// holds the page for that access, else by a walk whose success is kept.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TranslateResult Translate(ulong va, AccessType access)
    {
        ulong page = va & PageMask;
        TlbEntry* e = _table + ((int)(va >> 12) & _mask);
        if ((uint)access <= (uint)AccessType.Execute)
        {
            ulong tag = ((ulong*)e)[(int)access];
            if (tag == (page | _context) || tag == page)
                return TranslateResult.Ok((e->Frame & PageMask) | (va & 0xFFF), (int)(e->Frame & 3) + 1);
        }
        return Miss(va, access);
    }

    /// <summary>
    /// <see cref="Translate(ulong, AccessType)"/> of many addresses: hits from the TLB, the
    /// misses walked together (their cache misses overlap) and kept.
    /// </summary>
    [SkipLocalsInit]
    public void Translate(ReadOnlySpan<ulong> addresses, AccessType access, Span<TranslateResult> results)
    {
        if (results.Length < addresses.Length)
            throw new ArgumentException($"{results.Length} results for {addresses.Length} addresses: give one result per address", nameof(results));
        CheckAccess(access);
        foreach (ulong va in addresses)
        {
            if (!_space.IsCanonical(va))
                throw new ArgumentOutOfRangeException(nameof(addresses), $"0x{va:X} is not canonical: the CPU raises #GP, not #PF");
        }
        const int Chunk = 64;
        ulong* missVa = stackalloc ulong[Chunk];
        int* missAt = stackalloc int[Chunk];
        WalkRights* rights = stackalloc WalkRights[Chunk];
        Span<TranslateResult> walked = stackalloc TranslateResult[Chunk];
        for (int start = 0; start < addresses.Length; start += Chunk)
        {
            int count = Math.Min(Chunk, addresses.Length - start), misses = 0;
            for (int i = start; i < start + count; i++)
            {
                ulong va = addresses[i];
                ulong page = va & PageMask;
                TlbEntry* e = _table + ((int)(va >> 12) & _mask);
                ulong tag = ((ulong*)e)[(int)access];
                if (tag == (page | _context) || tag == page)
                {
                    results[i] = TranslateResult.Ok((e->Frame & PageMask) | (va & 0xFFF), (int)(e->Frame & 3) + 1);
                    continue;
                }
                missVa[misses] = va;
                missAt[misses++] = i;
            }
            if (misses == 0)
                continue;
            _space.Walk(new ReadOnlySpan<ulong>(missVa, misses), in Rules(access), walked, rights, updateAccessedDirty: true);
            for (int k = 0; k < misses; k++)
            {
                if (walked[k].Success)
                    Fill(missVa[k], access, in rights[k]);
                results[missAt[k]] = walked[k];
            }
        }
    }

    /// <summary>Whether <see cref="Translate(ulong, AccessType)"/> would answer from the TLB (for tests).</summary>
    internal bool Holds(ulong va, AccessType access)
    {
        CheckAccess(access);
        ulong tag = ((ulong*)(_table + ((int)(va >> 12) & _mask)))[(int)access];
        return tag == ((va & PageMask) | _context) || tag == (va & PageMask);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private TranslateResult Miss(ulong va, AccessType access)
    {
        CheckAccess(access);
        WalkRights rights;
        var r = _space.Walk(va, in Rules(access), updateAccessedDirty: true, &rights, _pdCache + ((int)(va >> 30) & (PdCaches - 1)));
        if (r.Success)
            Fill(va, access, in rights);
        return r;
    }

    /// <summary>Keeps a successful walk: a tag for every access kind the mode allows (write only on a dirty leaf).</summary>
    private void Fill(ulong va, AccessType walked, in WalkRights w)
    {
        int index = (int)(va >> 12) & _mask;
        TlbEntry* e = _table + index;
        ulong leaf = w.Leaf | (walked == AccessType.Write ? Pte.Dirty : 0); // the walk just set D
        bool global = GlobalPages && (leaf & Pte.Global) != 0;
        ulong tag = (va & PageMask) | (global ? 0 : _context);
        ulong invalid = Invalid(index);
        int allowed = _allowed[_allowedAt + Signature(w.And, w.Or, leaf)];
        e->Read = (allowed & 1) != 0 ? tag : invalid;
        e->Write = (allowed & 2) != 0 ? tag : invalid;
        e->Execute = (allowed & 4) != 0 ? tag : invalid;
        ulong offset = (1UL << AddressSpace.Shift(w.Level)) - 1;
        e->Frame = (leaf & Pte.PfnMask & ~offset) | (va & offset & PageMask) | (uint)(w.Level - 1);
        if (w.Level > 1)
            NoteHuge(va & ~offset, offset + 1);
    }

    /// <summary>A tag no lookup at slot <paramref name="index"/> can produce: its page belongs to another slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Invalid(int index) => (ulong)(index ^ 1) << 12;

    private static int ModeTable(in CpuMode m) => m.User ? 0 : m.Smap && !m.AlignmentCheck ? 2 : 1;

    /// <summary>The mode without what only picks a table.</summary>
    private static CpuMode Unprivileged(in CpuMode m) => m with { User = false, AlignmentCheck = false };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckAccess(AccessType access)
    {
        if ((uint)access > (uint)AccessType.Execute)
            ThrowBadAccess(access);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowBadAccess(AccessType access)
    {
        throw new ArgumentOutOfRangeException(nameof(access), access, "an access is Read, Write or Execute");
    }
}

/// <summary>
/// One cached page: a tag per access kind (page | context, or page alone for a global page;
/// a tag naming another slot's page when that access is not allowed) and the frame, with the
/// page size (level - 1) in bits 0-1.
/// </summary>
internal struct TlbEntry
{
    public ulong Read;
    public ulong Write;
    public ulong Execute;
    public ulong Frame;
}
