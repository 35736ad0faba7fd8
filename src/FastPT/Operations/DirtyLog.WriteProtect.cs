using System.Numerics;
using System.Runtime.CompilerServices;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>What <see cref="DirtyLog.HandleWriteFault"/> made of a write fault.</summary>
public enum DirtyLogFault
{
    /// <summary>The page is logged and writable (it was protected by the log, or another vCPU already gave it back): retry the write.</summary>
    Resolved,
    /// <summary>The address is in no slot of the log: the fault is not the log's, deliver it.</summary>
    OutsideSlots,
    /// <summary>The page is in a slot but the log did not protect it (not present, or mapped read-only): deliver the fault.</summary>
    NotLogProtected,
}

/// <summary>
/// The write-protect-based log (<see cref="DirtyLogMode.WriteProtect"/>), as KVM runs it without
/// PML or D bits. Invariant: a writable page of a slot is pending (reported by the next Get)
/// or is having its fault handled. Clear write-protects the masked pages it takes out of the
/// log (R/W moves to the write-protect bit, as <see cref="PageTableOps.WriteProtect"/> does, so
/// pages mapped read-only stay so); the write fault that follows is handed to
/// <see cref="DirtyLog.HandleWriteFault"/>, which gives write access back and only then marks the
/// page: marking first would let a Get and Clear run between the two, find the page still
/// protected, and leave it writable outside the log. Another vCPU may write the page between the
/// two steps, so Get first waits for the handlers already running (a grace period, as KVM's TLB
/// flush waits for its lockless page faults), then moves the marks into the log; it walks no tables.
/// </summary>
public sealed partial class DirtyLog
{
    // Handlers join the counter the epoch's parity names; Get flips the parity and waits for the
    // other counter to drain, so handlers that began after the flip never delay it.
    private int _faultEpoch;
    private readonly int[] _faultsRunning = new int[2];

    /// <summary>
    /// The embedder's write-fault path (a #PF with W|P, an EPT violation on a write): if the page
    /// at <paramref name="address"/> was write-protected by this log, it gets write access back
    /// (a huge leaf whole, its pages in the slot all logged) and is logged for the next
    /// <see cref="Get"/>; execute <paramref name="flush"/> (an x86 CPU drops the faulting
    /// translation by itself; a software TLB must be told) and retry the write. Any number of
    /// vCPU threads may call it beside Get and Clear. Otherwise nothing changes and the result
    /// says why the fault is not the log's. Allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe DirtyLogFault HandleWriteFault(ulong address, FlushPlan flush)
    {
        ArgumentNullException.ThrowIfNull(flush);
        if (_mode != DirtyLogMode.WriteProtect)
            throw new InvalidOperationException("only a DirtyLogMode.WriteProtect log protects pages; a DirtyBit log causes no write faults");
        Slot? s = null;
        foreach (var x in _slots)
        {
            if (address - x.Start < x.End - x.Start)
                s = x;
        }
        if (s is null)
            return DirtyLogFault.OutsideSlots;
        int side = Volatile.Read(ref _faultEpoch) & 1;
        Interlocked.Increment(ref _faultsRunning[side]);
        try
        {
            return Resolve(s, address, flush);
        }
        finally
        {
            Interlocked.Decrement(ref _faultsRunning[side]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe DirtyLogFault Resolve(Slot s, ulong address, FlushPlan flush)
    {
        while (true)
        {
            ulong* leaf = _space.FindLeaf(address, out int level);
            ulong seen = Volatile.Read(ref *leaf);
            if ((seen & Pte.Present) == 0)
                return DirtyLogFault.NotLogProtected;
            ulong size = 1UL << Paging.AddressSpace.Shift(level);
            ulong at = address & ~(size - 1);
            if ((seen & Pte.Writable) == 0)
            {
                if ((seen & Pte.UffdWp) == 0)
                    return DirtyLogFault.NotLogProtected;
                bool moved = _options.SharedTables
                    ? HarvestScalar.One<SharedTables>(leaf, ref seen, Pte.UffdWp, Pte.Writable)
                    : HarvestScalar.One<ExclusiveTables>(leaf, ref seen, Pte.UffdWp, Pte.Writable);
                if (!moved)
                    continue;  // changed meanwhile (given back by another vCPU, split by a Clear): look again
                if (FlushRules.NeedsFlush(seen, (seen & ~Pte.UffdWp) | Pte.Writable))
                    flush.Add(at, at + size);
            }
            // Writable now: log it after the access came back, never before (see the class comment).
            Mark(s, Math.Max(at, s.Start), Math.Min(at + size, s.End));
            return DirtyLogFault.Resolved;
        }
    }

    /// <summary>Sets the marks of the slot's pages in [a, b), atomically against Get.</summary>
    private static void Mark(Slot s, ulong a, ulong b)
    {
        ulong first = (a - s.Start) >> 12, end = (b - s.Start) >> 12;
        for (ulong p = first; p < end;)
        {
            int bit = (int)(p & 63);
            int n = (int)Math.Min(64 - (ulong)bit, end - p);
            ulong bits = (n == 64 ? ulong.MaxValue : (1UL << n) - 1) << bit;
            Interlocked.Or(ref s.Marked[p >> 6], bits);
            p += (ulong)n;
        }
    }

    /// <summary>
    /// Get of a write-protect log: once the handlers running now are done, the marks move into the
    /// log, the log ORs into the bitmap.
    /// </summary>
    private WalkResult GetMarked(Slot s, Span<ulong> bitmap)
    {
        int draining = (Interlocked.Increment(ref _faultEpoch) - 1) & 1;
        var spin = default(SpinWait);
        while (Volatile.Read(ref _faultsRunning[draining]) != 0)
            spin.SpinOnce();
        var pending = s.Pending;
        var marked = s.Marked;
        for (int w = 0; w < pending.Length; w++)
        {
            ulong m = Volatile.Read(ref marked[w]);
            if (m != 0)
                pending[w] |= Interlocked.Exchange(ref marked[w], 0);
            bitmap[w] |= pending[w];
        }
        return new WalkResult(WalkStatus.Complete, s.End, 0, 0, 0, 0);
    }

    /// <summary>
    /// Clear of a write-protect log: the masked pages the log held leave it and are
    /// write-protected, run by run. Masked pages the Get did not report stay as they are.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private long ClearProtect(Slot s, ulong firstWord, ReadOnlySpan<ulong> mask, FlushPlan flush)
    {
        long left = 0;
        ulong runStart = 0, runEnd = 0;
        bool run = false;
        for (int i = 0; i < mask.Length; i++)
        {
            ulong w = firstWord + (ulong)i;
            ulong leaving = mask[i] & s.Pending[w];
            s.Pending[w] &= ~mask[i];
            // A leaving page marked since the Get (a write between Get and Clear, possible when a
            // huge leaf was protected while part of it was still pending) leaves too, as in D mode.
            // Before the protect: a fault after it marks the page again.
            if (leaving != 0 && (Volatile.Read(ref s.Marked[w]) & leaving) != 0)
                Interlocked.And(ref s.Marked[w], ~leaving);
            left += BitOperations.PopCount(leaving);
            while (leaving != 0)
            {
                int tz = BitOperations.TrailingZeroCount(leaving);
                int ones = BitOperations.TrailingZeroCount(~(leaving >> tz));
                ulong p0 = (w << 6) + (ulong)tz, p1 = p0 + (ulong)ones;
                leaving = tz + ones == 64 ? 0 : leaving & ~((1UL << (tz + ones)) - 1);
                if (run && p0 == runEnd)
                {
                    runEnd = p1;
                    continue;
                }
                if (run)
                    ProtectRun(s, runStart, runEnd, flush);
                (runStart, runEnd, run) = (p0, p1, true);
            }
        }
        if (run)
            ProtectRun(s, runStart, runEnd, flush);
        return left;
    }

    /// <summary>
    /// Write-protects the slot's pages [p0, p1): 4 KiB leaves directly in their PTE table, one
    /// lookup per 2 MiB rather than a walk per run (a Clear's runs are often single pages), each
    /// move atomic as the walker's; a huge leaf or a missing table goes to <see cref="Protect"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void ProtectRun(Slot s, ulong p0, ulong p1, FlushPlan flush)
    {
        ulong* table = null;
        ulong region = ulong.MaxValue;
        for (ulong p = p0; p < p1; p++)
        {
            ulong va = s.Start + (p << 12);
            if (va >> 21 != region)
            {
                region = va >> 21;
                ulong* leaf = _space.FindLeaf(va, out int level);
                table = level == 1 ? leaf - ((va >> 12) & 511) : null;
            }
            if (table == null)
            {
                ulong regionEnd = (region + 1) << 21;   // 0 past the top of the address space
                ulong end = regionEnd == 0 ? p1 : Math.Min(p1, (regionEnd - s.Start) >> 12);
                Protect(s, p, end, flush);
                p = end - 1;
                continue;
            }
            ulong* e = table + ((va >> 12) & 511);
            ulong seen = Volatile.Read(ref *e);
            bool moved = _options.SharedTables
                ? HarvestScalar.One<SharedTables>(e, ref seen, Pte.Writable, Pte.UffdWp)
                : HarvestScalar.One<ExclusiveTables>(e, ref seen, Pte.Writable, Pte.UffdWp);
            if (moved && FlushRules.NeedsFlush(seen, (seen & ~Pte.Writable) | Pte.UffdWp))
                flush.Add(va, va + 4096);
        }
    }

    /// <summary>
    /// Write-protects the slot's pages [p0, p1), widened (Leaf granularity) to the huge leaves at
    /// its ends so they are protected whole. If the walk cannot finish (a split without tables),
    /// the pages are marked instead: reported again rather than left writable outside the log.
    /// </summary>
    private unsafe void Protect(Slot s, ulong p0, ulong p1, FlushPlan flush)
    {
        ulong a = s.Start + (p0 << 12), b = s.Start + (p1 << 12);
        if (_granularity == DirtyLogGranularity.Leaf)
        {
            a = Math.Max(s.Start, LeafStart(a));
            b = Math.Min(s.End, LeafStart(b - 1) + LeafSize(b - 1));
        }
        var r = PageTableOps.WriteProtect(_space, a, b, protect: true, flush, _options);
        if (!r.Complete)
            Mark(s, r.WalkEnd, b);
    }

    /// <summary>Where the leaf mapping va begins (va's page when it is not a present huge leaf).</summary>
    private unsafe ulong LeafStart(ulong va) => va & ~(LeafSize(va) - 1);

    private unsafe ulong LeafSize(ulong va)
    {
        ulong e = *_space.FindLeaf(va, out int level);
        return level >= 2 && (e & (Pte.Present | Pte.PageSize)) == (Pte.Present | Pte.PageSize)
            ? 1UL << Paging.AddressSpace.Shift(level)
            : 4096;
    }

    /// <summary>AddSlot of a write-protect log: every writable page of [start, end) leaves write access; all or nothing.</summary>
    private void ProtectAll(ulong start, ulong end, FlushPlan flush)
    {
        var r = PageTableOps.WriteProtect(_space, start, end, protect: true, flush, _options);
        if (r.Complete)
            return;
        PageTableOps.WriteProtect(_space, start, r.WalkEnd, protect: false, flush, _options);
        throw new TableAllocationException($"write-protecting [0x{start:X}, 0x{end:X}) needs a table to split a huge leaf at the slot's edge at 0x{r.WalkEnd:X}; nothing is logged");
    }
}
