using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>How finely a <see cref="DirtyLog"/> reports writes to huge leaves.</summary>
public enum DirtyLogGranularity
{
    /// <summary>A written huge leaf reports every page it maps; nothing is split.</summary>
    Leaf,
    /// <summary>
    /// Per 4 KiB page: <see cref="DirtyLog.AddSlot"/> splits the huge leaves of the slot (as
    /// KVM's eager page split does when logging starts) and every later harvest splits a huge
    /// leaf it covers in part. Allocates tables.
    /// </summary>
    Page4K,
}

/// <summary>How a <see cref="DirtyLog"/> learns of writes.</summary>
public enum DirtyLogMode
{
    /// <summary>The CPU sets D (or EPT's dirty flag); Get harvests it, Clear clears it.</summary>
    DirtyBit,
    /// <summary>
    /// KVM without PML or D bits: Clear (and AddSlot) write-protect pages; the embedder's
    /// write-fault path calls <see cref="DirtyLog.HandleWriteFault"/>, which logs the page and
    /// gives write access back so the retried write succeeds. Get walks no tables.
    /// </summary>
    WriteProtect,
}

/// <summary>
/// KVM's dirty-log contract over FastPT's tables (KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG with
/// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2). A slot is a range of the space's input addresses; for a
/// VMM's stage-2 (EPT-like) tables that is a guest-physical range, walked as is. Per slot the log
/// keeps a bitmap of little-endian 64-bit words, bit k for the page at start + k * 4096.
/// <see cref="Get"/> harvests D into it and ORs it into the caller's bitmap; a page stays in it
/// until <see cref="Clear"/> re-arms the page, so writes between a Get and the Clear of a page
/// it reported are the caller's to copy after the Clear (as with KVM). Both are safe beside
/// running vCPUs with <see cref="WalkOptions.SharedTables"/>; both fill a flush plan the caller
/// must execute before it relies on the log again (a cached dirty translation would let a write
/// through without setting D). One thread at a time calls Get and Clear on one log. In
/// <see cref="DirtyLogMode.WriteProtect"/> mode the pages are write-protected instead
/// (DirtyLog.WriteProtect.cs) and any number of vCPU threads call HandleWriteFault meanwhile.
/// </summary>
public sealed partial class DirtyLog
{
    private const int HugeShift = 21;
    private readonly AddressSpace _space;
    private readonly WalkOptions _options;
    private readonly DirtyLogGranularity _granularity;
    private readonly DirtyLogMode _mode;
    // Copied on write so HandleWriteFault (any vCPU thread) reads a consistent list without a lock.
    private volatile Slot[] _slots = [];

    /// <param name="options">How the harvests walk: <see cref="WalkOptions.SharedTables"/> beside running vCPUs; no page budget.</param>
    public DirtyLog(AddressSpace space, in WalkOptions options = default, DirtyLogGranularity granularity = DirtyLogGranularity.Leaf,
        DirtyLogMode mode = DirtyLogMode.DirtyBit)
    {
        ArgumentNullException.ThrowIfNull(space);
        options.Validate();
        if (options.BudgetPages != 0)
            throw new ArgumentException("a dirty log harvests whole slots: leave WalkOptions.BudgetPages at 0", nameof(options));
        if (!Enum.IsDefined(granularity))
            throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "Leaf or Page4K");
        if (!Enum.IsDefined(mode))
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "DirtyBit or WriteProtect");
        _space = space;
        _options = options;
        _granularity = granularity;
        _mode = mode;
    }

    /// <summary>How this log learns of writes.</summary>
    public DirtyLogMode Mode => _mode;

    /// <summary>
    /// Starts logging [start, start + size) as slot <paramref name="id"/> (page-aligned, in the
    /// space's canonical lower or upper half, overlapping no other slot). Every page starts clean.
    /// With <see cref="DirtyLogGranularity.Page4K"/> the slot's huge leaves are split here (not
    /// atomically: no vCPU may run on the tables meanwhile) and <paramref name="flush"/> gets them.
    /// In <see cref="DirtyLogMode.WriteProtect"/> mode every writable page of the slot is
    /// write-protected here (a huge leaf crossing the slot's edge is split: the log must not
    /// protect pages outside its slots); pages mapped into the slot later must be mapped read-only.
    /// </summary>
    public void AddSlot(int id, ulong start, ulong size, FlushPlan flush)
    {
        ArgumentNullException.ThrowIfNull(flush);
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        if (size == 0 || (size & 4095) != 0 || start + size < start)
            throw new ArgumentException($"slot {id}: size 0x{size:X} must be a positive multiple of 4 KiB that does not wrap", nameof(size));
        RangeWalker.CheckRange(_space, start, start + size);
        foreach (var s in _slots)
        {
            if (s.Id == id)
                throw new ArgumentException($"slot {id} is already logged; remove it first", nameof(id));
            if (start < s.End && s.Start < start + size)
                throw new ArgumentException($"slot {id} [0x{start:X}, 0x{start + size:X}) overlaps slot {s.Id} [0x{s.Start:X}, 0x{s.End:X})", nameof(start));
        }
        if (_granularity == DirtyLogGranularity.Page4K)
            SplitHuge(start, start + size, flush);
        if (_mode == DirtyLogMode.WriteProtect)
            ProtectAll(start, start + size, flush);
        _slots = [.. _slots, new Slot(id, start, size >> 12)];
    }

    /// <summary>
    /// Stops logging slot <paramref name="id"/> and forgets its pending pages. A write-protect log
    /// needs <see cref="RemoveSlot(int, FlushPlan)"/>, which gives the slot's pages write access back.
    /// </summary>
    public void RemoveSlot(int id)
    {
        var s = Find(id);
        if (_mode == DirtyLogMode.WriteProtect)
            throw new InvalidOperationException($"slot {id} is write-protected by the log: call RemoveSlot(id, flush) so its pages get write access back");
        _slots = [.. _slots.Where(x => x != s)];
    }

    /// <summary>
    /// Stops logging slot <paramref name="id"/> and forgets its pending pages; in
    /// <see cref="DirtyLogMode.WriteProtect"/> mode the pages the log protected get write access back.
    /// </summary>
    public void RemoveSlot(int id, FlushPlan flush)
    {
        var s = Find(id);
        ArgumentNullException.ThrowIfNull(flush);
        _slots = [.. _slots.Where(x => x != s)];
        if (_mode == DirtyLogMode.WriteProtect)
            PageTableOps.WriteProtect(_space, s.Start, s.End, protect: false, flush, _options);
    }

    /// <summary>The pages of slot <paramref name="id"/> (bits its bitmaps need; words = (pages + 63) / 64).</summary>
    public ulong Pages(int id) => Find(id).Pages;

    /// <summary>
    /// KVM_GET_DIRTY_LOG: harvests D over the slot (clearing it, so later writes set it again once
    /// <paramref name="flush"/> is executed) and ORs every page written since its last
    /// <see cref="Clear"/> into <paramref name="bitmap"/>. A huge leaf reports all its pages in the
    /// slot. Status other than Complete: a table could not be allocated (Page4K) or a guest-built
    /// link leads outside guest memory; what was harvested before WalkEnd is in the log and in bitmap.
    /// </summary>
    /// <param name="bitmap">At least (pages + 63) / 64 words; bits are ORed in (clear it for KVM's overwrite).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public WalkResult Get(int id, Span<ulong> bitmap, FlushPlan flush)
    {
        var s = Find(id);
        ArgumentNullException.ThrowIfNull(flush);
        if ((ulong)bitmap.Length < s.Words)
            throw new ArgumentException($"slot {id} has {s.Pages} pages: the bitmap needs {s.Words} words, not {bitmap.Length}", nameof(bitmap));
        if (_mode == DirtyLogMode.WriteProtect)
            return GetMarked(s, bitmap);
        var r = PageTableOps.Harvest(_space, s.Start, s.End, s.Pending, HarvestBit.Dirty, flush, _options, HarvestFlags.Accumulate | SplitFlag);
        var pending = s.Pending.AsSpan();
        for (int w = 0; w < pending.Length; w++)
            bitmap[w] |= pending[w];
        return r;
    }

    /// <summary>
    /// KVM_CLEAR_DIRTY_LOG: re-arms the pages whose bits are set in <paramref name="mask"/>, word i
    /// covering pages firstPage + 64 i ... + 63: they leave the log, and a write from now on
    /// (once <paramref name="flush"/> is executed) reports them again. A write to such a page
    /// between the Get that reported it and this Clear is not reported again, as with KVM: copy
    /// pages after clearing them. Pages written since the Get that the mask does not name stay
    /// pending. Huge leaves are re-armed whole: the harvest widens to the 2 MiB leaves around the
    /// mask (within the slot) and keeps what the neighbours had, so a leaf may be cleared in parts.
    /// Bad input throws before anything changes. Returns the pages that left the log.
    /// </summary>
    /// <param name="firstPage">A multiple of 64, below the slot's page count.</param>
    /// <param name="mask">One word per 64 pages; bits past the slot's end must be clear.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public long Clear(int id, ulong firstPage, ReadOnlySpan<ulong> mask, FlushPlan flush)
    {
        var s = Find(id);
        ArgumentNullException.ThrowIfNull(flush);
        if ((firstPage & 63) != 0)
            throw new ArgumentException($"slot {id}: first page {firstPage} is not a multiple of 64 (each mask word covers 64 pages from a 64-page boundary)", nameof(firstPage));
        if (firstPage >= s.Pages || (ulong)mask.Length > (s.Pages - firstPage + 63) / 64)
            throw new ArgumentOutOfRangeException(nameof(mask), $"slot {id} has {s.Pages} pages: mask words from page {firstPage} may number at most {(s.Pages > firstPage ? (s.Pages - firstPage + 63) / 64 : 0)}, not {mask.Length}");
        ulong firstWord = firstPage >> 6;
        if (mask.Length > 0 && firstWord + (ulong)mask.Length == s.Words && (s.Pages & 63) != 0 && (mask[^1] >> (int)(s.Pages & 63)) != 0)
            throw new ArgumentOutOfRangeException(nameof(mask), $"slot {id} has {s.Pages} pages: the last mask word names pages past its end (bits from {s.Pages & 63} must be clear)");

        if (_mode == DirtyLogMode.WriteProtect)
            return ClearProtect(s, firstWord, mask, flush);
        long left = 0;
        ulong runStart = 0, runEnd = 0;
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i] == 0)
                continue;
            Window(s, firstWord + (ulong)i, out ulong a, out ulong b);
            if (runEnd != 0 && a <= runEnd)
            {
                runEnd = Math.Max(runEnd, b);
                continue;
            }
            if (runEnd != 0)
                left += Rearm(s, runStart, runEnd, firstWord, mask, flush);
            runStart = a;
            runEnd = b;
        }
        if (runEnd != 0)
            left += Rearm(s, runStart, runEnd, firstWord, mask, flush);
        return left;
    }

    private HarvestFlags SplitFlag => _granularity == DirtyLogGranularity.Page4K ? HarvestFlags.SplitPartialHuge : HarvestFlags.None;

    /// <summary>
    /// The addresses a Clear of mask word <paramref name="word"/> harvests: the word's pages, widened
    /// (Leaf granularity) to the 2 MiB leaves around them, kept within the slot and on 64-page
    /// boundaries of the slot so that the harvest's bitmap lines up with the log's words.
    /// </summary>
    private void Window(Slot s, ulong word, out ulong a, out ulong b)
    {
        a = s.Start + (word << 18);
        b = Math.Min(s.End, a + (64UL << 12));
        if (_granularity == DirtyLogGranularity.Leaf)
        {
            a = Math.Max(s.Start, a >> HugeShift << HugeShift);
            b = Math.Min(s.End, ((b - 1) >> HugeShift << HugeShift) + (1UL << HugeShift));
            a = s.Start + ((a - s.Start) >> 18 << 18);
            b = Math.Min(s.End, s.Start + ((b - s.Start + (1UL << 18) - 1) >> 18 << 18));
        }
    }

    /// <summary>
    /// Harvests [a, b) into the scratch words and merges: a masked page that was pending leaves
    /// the log (its write since the Get is dropped, as KVM drops it); every other page harvested
    /// dirty stays pending, so nothing written since the Get is lost.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private long Rearm(Slot s, ulong a, ulong b, ulong firstWord, ReadOnlySpan<ulong> mask, FlushPlan flush)
    {
        int wa = (int)((a - s.Start) >> 18), wb = (int)((b - s.Start + (1UL << 18) - 1) >> 18);
        var scratch = s.Scratch.AsSpan(wa, wb - wa);
        PageTableOps.Harvest(_space, a, b, scratch, HarvestBit.Dirty, flush, _options, SplitFlag);
        long left = 0;
        for (int w = wa; w < wb; w++)
        {
            ulong i = (ulong)w - firstWord;
            ulong m = (ulong)w >= firstWord && i < (ulong)mask.Length ? mask[(int)i] : 0;
            ulong leaving = m & s.Pending[w];
            left += BitOperations.PopCount(leaving);
            s.Pending[w] = (s.Pending[w] & ~m) | (scratch[w - wa] & ~leaving);
        }
        return left;
    }

    /// <summary>Splits every present huge leaf in [start, end) down to 4 KiB pages.</summary>
    private unsafe void SplitHuge(ulong start, ulong end, FlushPlan flush)
    {
        for (ulong va = start >> HugeShift << HugeShift; va < end;)
        {
            ulong* leaf = _space.FindLeaf(va, out int level);
            if (level >= 2 && (*leaf & (Pte.Present | Pte.PageSize)) == (Pte.Present | Pte.PageSize))
            {
                ulong size = 1UL << AddressSpace.Shift(level);
                ulong at = va & ~(size - 1);
                _space.Split(at, level);
                flush.Add(at, at + size);
                continue;  // a 1 GiB leaf became 2 MiB leaves: look again
            }
            va += 1UL << HugeShift;
        }
    }

    private Slot Find(int id)
    {
        foreach (var s in _slots)
        {
            if (s.Id == id)
                return s;
        }
        throw new ArgumentException($"no slot {id} is logged; add it with AddSlot", nameof(id));
    }

    private sealed class Slot(int id, ulong start, ulong pages)
    {
        public int Id => id;
        public ulong Start => start;
        public ulong Pages => pages;
        public ulong End => start + (pages << 12);
        public ulong Words => (pages + 63) / 64;
        /// <summary>The memslot's own bitmap: pages written since their last Clear.</summary>
        public ulong[] Pending { get; } = new ulong[(pages + 63) / 64];
        /// <summary>Where Clear's harvests land before they are merged.</summary>
        public ulong[] Scratch { get; } = new ulong[(pages + 63) / 64];
        /// <summary>Write-protect mode: pages HandleWriteFault logged since the last Get (atomic words).</summary>
        public ulong[] Marked { get; } = new ulong[(pages + 63) / 64];
    }
}
