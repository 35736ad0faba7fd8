using FastPT.Diagnostics;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Uffd;

/// <summary>
/// A process's memory as Linux manages it, on FastPT's own tables: VMAs with a backing,
/// protection and userfaultfd write-protect registration, a page cache for file memory, and
/// the fault path. Accesses are real hardware walks (<see cref="AddressSpace.Translate(ulong, AccessType, in CpuMode, bool)"/>);
/// when one faults the model does what Linux's fault handler would and the CPU retries.
/// Not thread-safe: one model is one mm under its mmap lock.
/// </summary>
public sealed partial class MemoryModel : IDisposable, IHugeSplitter
{
    private static readonly CpuMode UserCpu = new(User: true);
    // A user-mode load and store, worked out once: every Access walks with one of them.
    private static readonly WalkRules UserRead = new(in UserCpu, AccessType.Read);
    private static readonly WalkRules UserWrite = new(in UserCpu, AccessType.Write);
    private readonly VmaList _vmas = new();
    private readonly FrameAllocator _frames = new();
    private readonly NativeTableSource? _ownedTables;
    private UnwrittenPages? _unwritten = new();
    private int _lastAnonVma;

    public MemoryModel(UffdFeatures features = UffdFeatures.None, ITableSource? tables = null)
    {
        if ((features & UffdFeatures.WpAsync) != 0)
            features |= UffdFeatures.WpUnpopulated;
        Features = features;
        if (tables is null)
            tables = _ownedTables = new NativeTableSource();
        Space = new AddressSpace(tables);
        if (FastPTEventSource.Log.SessionEnabled())
            FastPTEventSource.Log.SpaceCreated(TraceSpace, Environment.ProcessId,
                ((features & UffdFeatures.WpUnpopulated) != 0 ? 1 : 0) | ((features & UffdFeatures.WpAsync) != 0 ? 2 : 0), "");
    }

    /// <summary>This model's Space id in FastPT events.</summary>
    public int TraceSpace { get; } = FastPTEventSource.NextSpaceId();

    public UffdFeatures Features { get; }

    /// <summary>
    /// The model's tables: walk them, translate through them, hand them to a vCPU (which sets
    /// A/D bits). Change entries only through the model's verbs: the model keeps state beside
    /// the tables (VMAs, the page cache, which tables a scan found unwritten) that a direct
    /// write would bypass.
    /// </summary>
    public AddressSpace Space { get; }

    /// <summary>
    /// Whether scans that require WRITTEN skip the pages a scan found unwritten and nothing
    /// touched since (on by default; tests turn it off to compare).
    /// </summary>
    internal bool RemembersUnwrittenPages
    {
        get => _unwritten is not null;
        set => _unwritten = value ? _unwritten ?? new() : null;
    }

    internal long UnwrittenPageCount => _unwritten?.Count ?? 0;

    /// <summary>
    /// The first page the record vouches for whose PTE is WRITTEN or gone (null when the
    /// record holds): a verb or fault that changed an entry without forgetting it first.
    /// </summary>
    internal unsafe ulong? FirstFalselyUnwrittenPage()
    {
        if (_unwritten is null)
            return null;
        var p = new ScanParams { EmptyIsWritten = true };
        foreach (ulong va in _unwritten.Pages().Order())
        {
            ulong* pte = Space.TryGetEntry(va, 1);
            if (pte is null || (ScanRule.Categorize(*pte, p) & PageCategories.Written) != 0)
                return va;
        }
        return null;
    }

    /// <summary>Every verb and fault that may change entries in [start, end) calls this first (see <see cref="UnwrittenPages"/>).</summary>
    private void Touching(ulong start, ulong end) => _unwritten?.Forget(start, end);

    /// <summary>
    /// How the model's range verbs (Unmap, Protect, Zap, WriteProtect, Unregister, Scan) walk:
    /// <see cref="WalkOptions.Parallelism"/> spreads large ranges over threads (scans stay on
    /// the calling thread: their output is ordered), <see cref="WalkOptions.SharedTables"/>
    /// makes every leaf change a compare-exchange for translations running beside the model.
    /// Model verbs always finish their range, so a page budget is refused.
    /// </summary>
    public WalkOptions WalkOptions
    {
        get => _walkOptions;
        set
        {
            value.Validate();
            if (value.BudgetPages != 0)
                throw new ArgumentException("a MemoryModel's verbs finish their range: BudgetPages must be 0 (use PageTableOps for budgeted walks)", nameof(value));
            _walkOptions = value;
        }
    }

    private WalkOptions _walkOptions;

    public long TablesInUse => Space.Tables.TablesInUse;

    private bool Async => (Features & UffdFeatures.WpAsync) != 0;

    /// <summary>userfaultfd_wp_use_markers: empty entries of this VMA get uffd-wp markers.</summary>
    private bool UseMarkers(Vma v) => v.UffdWp && (!v.Anonymous || (Features & UffdFeatures.WpUnpopulated) != 0);

    /// <summary>mmap at a fixed address (a fresh memfd for file memory). The range must be free; a new anonymous mapping merges with compatible neighbours, as mmap does.</summary>
    public void Map(ulong start, ulong length, Backing backing, MemoryProtection protection, bool hugePageHint = false)
    {
        CheckRange(start, length);
        ulong end = start + length;
        int i = FirstEndingAfter(start);
        if (i < _vmas.Count && _vmas[i].Start < end)
            throw new InvalidOperationException($"[0x{start:X}, 0x{end:X}) overlaps an existing mapping; unmap it first");
        if (hugePageHint && backing != Backing.Anon)
            throw new ArgumentException("transparent huge pages are modelled for anonymous memory only", nameof(hugePageHint));
        var vma = NewVma(start, end, backing, protection, hugePageHint,
            backing == Backing.File ? new ShmemFile((long)(length >> 12), _spareChunks) : null,
            account: backing == Backing.Anon && protection == MemoryProtection.ReadWrite); // accountable_mapping
        _vmas.Insert(i, vma);
        Merge(start, end); // a new anonymous mapping joins a compatible neighbour at once
        if (FastPTEventSource.Log.RegionsEnabled())
            FastPTEventSource.Log.MapRegion(TraceSpace, start, length, (int)backing, (int)protection, 0);
    }

    /// <summary>munmap: zaps everything (markers too), frees the tables, forgets the VMAs.</summary>
    /// <param name="flush">Receives the ranges whose translations a TLB may still hold.</param>
    public void Unmap(ulong start, ulong length, FlushPlan flush)
    {
        CheckRange(start, length);
        ArgumentNullException.ThrowIfNull(flush);
        ulong end = start + length;
        Touching(start, end);
        SplitHugeAtEdges(start, end, flush);
        long changed = 0, freed = 0;
        int first = Split(start, end), last = first;
        for (; last < _vmas.Count && _vmas[last].Start < end; last++)
        {
            var v = _vmas[last];
            var r = Completed(PageTableOps.Zap(Space, v.Start, v.End, ZapParams.Unmap, flush, _walkOptions), "munmap");
            changed += r.EntriesChanged;
            freed += r.TablesFreed;
        }
        RemoveVmas(first, last - first);
        if (FastPTEventSource.Log.RegionsEnabled())
            FastPTEventSource.Log.Unmap(TraceSpace, start, length, 0, changed, freed);
    }

    /// <summary>
    /// UFFDIO_REGISTER with mode WP over [start, end): VMAs not yet registered are split at the
    /// range's edges (a huge page across an edge too) so that exactly the range is registered;
    /// registered ones are left whole, as the kernel skips them.
    /// </summary>
    /// <param name="flush">Receives the huge pages split at the edges (their page size changes).</param>
    public void RegisterWriteProtect(ulong start, ulong length, FlushPlan flush)
    {
        CheckRange(start, length);
        ArgumentNullException.ThrowIfNull(flush);
        ulong end = start + length;
        for (int i = RequireMappedFrom(start, end); i < _vmas.Count && _vmas[i].Start < end; i++)
        {
            if (_vmas[i].UffdWp)
                continue;
            i = SplitAtRangeEdges(_vmas[i], start, end, flush);
            _vmas[i].UffdWp = true;
        }
        Merge(start, end);
        if (FastPTEventSource.Log.UffdEnabled())
            FastPTEventSource.Log.RegisterWp(TraceSpace, start, length, 0, 0);
    }

    /// <summary>
    /// UFFDIO_UNREGISTER: in each registered VMA (split at the range's edges, as register does),
    /// resets write protection first (markers go back to empty entries, bit 10 is cleared), then
    /// drops the registration. VMAs not registered are left whole.
    /// </summary>
    /// <param name="flush">Receives the ranges whose translations a TLB may still hold.</param>
    public void Unregister(ulong start, ulong length, FlushPlan flush)
    {
        CheckRange(start, length);
        ArgumentNullException.ThrowIfNull(flush);
        ulong end = start + length;
        Touching(start, end);
        for (int i = FirstEndingAfter(start); i < _vmas.Count && _vmas[i].Start < end; i++)
        {
            if (!_vmas[i].UffdWp)
                continue;
            i = SplitAtRangeEdges(_vmas[i], start, end, flush);
            var v = _vmas[i];
            Completed(ChangeProtection(v, v.Start, v.End, ChangeProtectionFlags.UffdWpResolve, flush), "UFFDIO_UNREGISTER");
            v.UffdWp = false;
        }
        Merge(start, end);
        if (FastPTEventSource.Log.UffdEnabled())
            FastPTEventSource.Log.Unregister(TraceSpace, start, length, 0);
    }

    /// <summary>
    /// __split_vma at start and end where they fall inside vma (splitting a huge page across
    /// either); returns the index of vma's part inside the range.
    /// </summary>
    private int SplitAtRangeEdges(Vma vma, ulong start, ulong end, FlushPlan flush)
    {
        ulong s = Math.Max(start, vma.Start), e = Math.Min(end, vma.End);
        SplitHugeAtEdges(s, e, flush);
        return Split(s, e); // only this VMA holds s or e, so its inside part is the one at this index
    }

    /// <summary>
    /// UFFDIO_WRITEPROTECT: mode WP (protect) or mode 0 (resolve). Every VMA in the range must
    /// be registered for write-protect.
    /// </summary>
    /// <param name="flush">Receives the ranges whose translations a TLB may still hold.</param>
    public WalkResult WriteProtect(ulong start, ulong length, bool protect, FlushPlan flush)
    {
        CheckRange(start, length);
        ArgumentNullException.ThrowIfNull(flush);
        ulong end = start + length;
        Touching(start, end);
        // Validate before changing anything, without allocating: this is the fault-resolve path.
        int first = RequireMappedFrom(start, end);
        for (int i = first; i < _vmas.Count && _vmas[i].Start < end; i++)
        {
            if (!_vmas[i].UffdWp)
                throw new InvalidOperationException($"[0x{_vmas[i].Start:X}, 0x{_vmas[i].End:X}) is not registered for write-protect (UFFDIO_WRITEPROTECT would fail with ENOENT)");
        }
        SplitHugeAtEdges(start, end, flush);
        long changed = 0;
        int allocated = 0, freed = 0, splits = 0;
        for (int i = first; i < _vmas.Count && _vmas[i].Start < end; i++)
        {
            var v = _vmas[i];
            var r = ChangeProtection(v, Math.Max(start, v.Start), Math.Min(end, v.End),
                protect ? ChangeProtectionFlags.UffdWp : ChangeProtectionFlags.UffdWpResolve, flush);
            changed += r.EntriesChanged;
            allocated += r.TablesAllocated;
            freed += r.TablesFreed;
            splits += r.HugeSplits;
            if (!r.Complete)
                return r with { EntriesChanged = changed, TablesAllocated = allocated, TablesFreed = freed, HugeSplits = splits };
        }
        if (FastPTEventSource.Log.UffdEnabled())
            FastPTEventSource.Log.WriteProtect(TraceSpace, start, length, protect ? 1 : 0, 0, changed, allocated);
        return new WalkResult(WalkStatus.Complete, end, changed, allocated, freed, splits);
    }

    /// <summary>mprotect: splits VMAs at the edges, sets the protection, rewrites present entries.</summary>
    /// <param name="flush">Receives the ranges whose translations a TLB may still hold.</param>
    public void Protect(ulong start, ulong length, MemoryProtection protection, FlushPlan flush)
    {
        CheckRange(start, length);
        ArgumentNullException.ThrowIfNull(flush);
        ulong end = start + length;
        Touching(start, end);
        for (int i = RequireMappedFrom(start, end); i < _vmas.Count && _vmas[i].Start < end; i++)
        {
            var vma = _vmas[i];
            if (vma.Protection == protection)
                continue; // mprotect_fixup: unchanged flags neither split the VMA nor touch its tables
            // mprotect_fixup: making private memory writable charges it (VM_ACCOUNT); making
            // anonymous memory without an anon_vma read-only uncharges it. The flag takes part in merging.
            bool account = vma.Account;
            if (protection == MemoryProtection.ReadWrite && !vma.Account && !vma.MayWrite && !vma.Shared)
                account = true;
            else if (protection != MemoryProtection.ReadWrite && vma.Account && vma.Anonymous && vma.AnonVma == 0)
                account = false;
            i = SplitAtRangeEdges(vma, start, end, flush);
            var v = _vmas[i];
            v.Protection = protection;
            v.Account = account;
            Completed(ChangeProtection(v, v.Start, v.End, ChangeProtectionFlags.None, flush), "mprotect");
        }
        Merge(start, end);
        if (FastPTEventSource.Log.RegionsEnabled())
            FastPTEventSource.Log.Protect(TraceSpace, start, length, (int)protection, 0, FastPTEventSource.Unknown, FastPTEventSource.Unknown);
    }

    /// <summary>madvise(MADV_DONTNEED): drops mappings, keeps the page cache.</summary>
    /// <param name="flush">Receives the ranges whose translations a TLB may still hold.</param>
    public void Zap(ulong start, ulong length, FlushPlan flush)
    {
        CheckRange(start, length);
        ArgumentNullException.ThrowIfNull(flush);
        ulong end = start + length;
        Touching(start, end);
        int first = RequireMappedFrom(start, end);
        SplitHugeAtEdges(start, end, flush);
        for (int i = first; i < _vmas.Count && _vmas[i].Start < end; i++)
        {
            var v = _vmas[i];
            var p = !v.Anonymous && v.UffdWp ? ZapParams.DontNeedFileUffdWp : ZapParams.DontNeed;
            Completed(PageTableOps.Zap(Space, Math.Max(start, v.Start), Math.Min(end, v.End), p, flush, _walkOptions), "MADV_DONTNEED");
        }
        if (FastPTEventSource.Log.RegionsEnabled())
            FastPTEventSource.Log.Zap(TraceSpace, start, length, 0, FastPTEventSource.Unknown, FastPTEventSource.Unknown);
    }

    private WalkResult ChangeProtection(Vma v, ulong start, ulong end, ChangeProtectionFlags flags, FlushPlan flush)
    {
        if (v.ManualWriteUpgrade && (flags & ChangeProtectionFlags.UffdWp) == 0)
            flags |= ChangeProtectionFlags.TryChangeWritable;
        var p = new ChangeProtectionParams(v.PageProt, flags, UseMarkers(v), v.MayWrite, v.Shared, v.UffdWp);
        bool splitHuge = (flags & ChangeProtectionFlags.UffdWp) != 0 && !v.Anonymous;
        return PageTableOps.ChangeProtection(Space, start, end, p, flush, _walkOptions, splitHuge: splitHuge);
    }

    /// <summary>
    /// A walk inside a verb that does not return its <see cref="WalkResult"/> must not stop part-way
    /// unnoticed: out of tables, the verb throws (what went before is done and in the flush plan).
    /// </summary>
    private static WalkResult Completed(WalkResult r, string verb) => r.Status == WalkStatus.OutOfTables
        ? throw new TableAllocationException($"{verb}: out of page tables at 0x{r.WalkEnd:X}; everything below it was done and is in the flush plan, so call again once tables are available")
        : r;

    /// <summary>The length of the mapping created at start (all VMAs split from it since).</summary>
    public ulong RegionLength(ulong start)
    {
        var first = FindVma(start) ?? throw new ArgumentException($"nothing is mapped at 0x{start:X}");
        ulong end = first.End;
        for (int i = 0; i < _vmas.Count; i++)
            if (_vmas[i].Start == end)
                end = _vmas[i].End;
        return end - start;
    }

    /// <summary>
    /// anon_vma_prepare: a VMA that is about to get anonymous pages takes the anon_vma of a
    /// compatible neighbour (next first, then prev) or a new one.
    /// </summary>
    private void PrepareAnonVma(Vma vma)
    {
        if (vma.AnonVma != 0 || !vma.Anonymous)
            return;
        int i = FirstEndingAfter(vma.Start);
        var next = i + 1 < _vmas.Count && _vmas[i + 1].Start == vma.End ? _vmas[i + 1] : null;
        var prev = i > 0 && _vmas[i - 1].End == vma.Start ? _vmas[i - 1] : null;
        vma.AnonVma = next is { AnonVma: not 0 } && vma.AnonVmaCompatible(next) ? next.AnonVma
            : prev is { AnonVma: not 0 } && prev.AnonVmaCompatible(vma) ? prev.AnonVma
            : ++_lastAnonVma;
    }

    /// <summary>Throws unless VMAs cover [start, end) without a hole; returns the first one's index.</summary>
    private int RequireMappedFrom(ulong start, ulong end)
    {
        int first = FirstEndingAfter(start);
        ulong at = start;
        for (int i = first; i < _vmas.Count && _vmas[i].Start < end && _vmas[i].Start <= at; i++)
            at = _vmas[i].End;
        if (at < end)
            throw new InvalidOperationException($"[0x{start:X}, 0x{end:X}) is not entirely mapped (hole at 0x{at:X}); the kernel would fail with ENOMEM");
        return first;
    }

    private static void CheckRange(ulong start, ulong length)
    {
        if ((start & 4095) != 0 || (length & 4095) != 0 || length == 0)
            throw new ArgumentException($"range 0x{start:X}+0x{length:X} must be 4 KiB-aligned and non-empty");
        if (start + length < start)
            throw new ArgumentOutOfRangeException(nameof(length), "range wraps around the address space");
    }

    public void Dispose()
    {
        if (FastPTEventSource.Log.SessionEnabled())
            FastPTEventSource.Log.SpaceDisposed(TraceSpace, TablesInUse);
        Space.Dispose();
        _ownedTables?.Dispose();
    }
}
