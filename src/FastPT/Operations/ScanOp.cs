using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT.Operations;

/// <summary>What a splitter with its own rule did with a huge leaf.</summary>
internal enum SplitOutcome
{
    /// <summary>Its rule does not apply: the walker splits the leaf the plain way.</summary>
    NotMine,
    /// <summary>A table now stands in the slot.</summary>
    Split,
    /// <summary>The rule applies but no table could be had; nothing changed.</summary>
    OutOfTables,
}

/// <summary>A split of a huge leaf by a rule the raw walker does not know (Linux's huge zero page).</summary>
internal interface IHugeSplitter
{
    SplitOutcome TrySplit(ulong leafVa, int level);
}

/// <summary>
/// PAGEMAP_SCAN as a walker operation over one VMA's part of the range: runs of PTEs go to
/// the scan kernel and the kept pages become regions; a hole without tables and a huge leaf
/// are each one output at their level, never page by page. WP_MATCHING protects in the same
/// pass: present, swap and none entries in the kernel, a huge leaf at its level (one the scan
/// covers only in part is split, its output taken back and its PTEs scanned instead, as
/// Linux does), holes get markers. The output state lives with the caller across VMAs. Scans
/// walk serially: a run's flush range and a hole's markers go straight into the plan.
/// </summary>
[SkipLocalsInit]
internal unsafe struct ScanOp : ILeafOp
{
    private readonly AddressSpace _space;
    private readonly ScanOutput* _out;
    private readonly ScanParams _p;
    private readonly ScanParams _noWp;
    private readonly bool _uniform;
    private readonly PageCategories _uniformReport;
    private readonly PageCategories _holeCategories;
    private readonly ulong _hugeZeroPfn;
    private readonly bool _shared;
    private readonly KernelIsa _isa;
    private readonly FlushPlan _flush;
    private readonly IHugeSplitter? _splitter;
    private readonly UnwrittenPages? _unwritten; // null unless the request requires WRITTEN
    private readonly bool _noteUnwritten;
    private ScanMemo _memo; // the last uniform pattern of this scan's params, reused by the next runs

    /// <param name="holeIsWritten">A hole without tables counts as WRITTEN (a VMA registered for uffd-wp).</param>
    /// <param name="hugeZeroPfn">The huge zero page's first frame (<see cref="ScanParams.NoPfn"/>: none).</param>
    /// <param name="flush">Receives what WP_MATCHING owes a TLB (also for the markers put into holes, which owe nothing).</param>
    /// <param name="unwritten">The owner's record of pages known not to be WRITTEN: left unread when the request requires WRITTEN, added to when a run is left without a WRITTEN page.</param>
    public ScanOp(AddressSpace space, ScanOutput* output, in ScanParams p, bool holeIsWritten, ulong hugeZeroPfn,
        FlushPlan flush, bool sharedTables = false, IHugeSplitter? splitter = null, KernelIsa? isa = null,
        UnwrittenPages? unwritten = null)
    {
        _space = space;
        _out = output;
        // When every kept PTE reports the same (e.g. mask=written return=written), runs of kept
        // bits are the regions: the kernels store no categories and none are compared.
        var uniform = p.UniformReport;
        _uniform = uniform.HasValue;
        _uniformReport = uniform.GetValueOrDefault();
        _p = p with { SkipCategories = _uniform };
        _noWp = _p with { WriteProtect = false };
        _holeCategories = p.VmaCategories | (holeIsWritten ? PageCategories.Written : 0);
        _hugeZeroPfn = hugeZeroPfn;
        _flush = flush;
        _shared = sharedTables;
        _splitter = splitter;
        _isa = isa ?? KernelIsas.Selected;
        _unwritten = unwritten is not null && UnwrittenPages.RequiresWritten(p) ? unwritten : null;
        _noteUnwritten = _unwritten is not null && UnwrittenPages.KeepsExactlyWritten(p);
        OutOfTables = false;
    }

    public readonly bool PopulateTables => false;

    public readonly bool FreeEmptyCoveredTables => false;

    /// <summary>A hole's markers or a huge zero page's split could not get a table.</summary>
    public bool OutOfTables { get; private set; }

    private ulong _stopAt;

    public readonly ulong StopAt => _stopAt;

    public readonly bool SplitsHuge(ulong entry, int level, bool covered) => false;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Run(ulong* entries, int count, ulong va, ref long changed, Span<ulong> flush)
    {
        Span<ulong> unread = stackalloc ulong[8];
        unread = unread[..((count + 63) >> 6)];
        int toRead = count, slot = -1;
        if (_unwritten is not null)
        {
            // Pages a scan left unwritten and nothing touched since hold nothing to keep or protect.
            slot = _unwritten.Find(va);
            toRead = Unread(_unwritten.Known(slot), (int)((va >> 12) & 511), count, unread);
            if (toRead == 0)
                return true;
        }
        // A run that can neither fill the buffer nor reach the page limit protects in the kernel;
        // otherwise only what is output before the stop may be protected: a second pass does that.
        // Only the entries to read can be kept.
        bool inline = _out->CannotStopWithin(toRead);
        bool sparse = toRead <= count / SparseFraction;
        if (inline && sparse && _uniform && _out->HasBuffer)
        {
            // Dirty tracking's rescan: the pages written since the last scan, word by word.
            long found = _shared ? SparseRuns<SharedTables>(entries, unread, va) : SparseRuns<ExclusiveTables>(entries, unread, va);
            changed += found;
            if (found == 0 || _p.WriteProtect)
                NoteUnwritten(count, va, slot);
            return true;
        }
        ushort* categories = stackalloc ushort[512];
        ulong* keptWords = stackalloc ulong[8];
        var kept = new Span<ulong>(keptWords, 8);
        kept.Clear();
        long n;
        if (!inline)
            n = Kernel(entries, count, _noWp, categories, kept, flush);
        else if (sparse)
            n = _shared
                ? ScanScalar.ApplyAt<SharedTables>(entries, unread, _p, categories, kept, flush)
                : ScanScalar.ApplyAt<ExclusiveTables>(entries, unread, _p, categories, kept, flush);
        else
            n = _shared
                ? ScanKernels.Apply<SharedTables>(_isa, entries, count, _p, categories, kept, flush)
                : ScanKernels.Apply<ExclusiveTables>(_isa, entries, count, _p, categories, kept, flush, ref _memo);
        changed += n;
        if (n == 0)
        {
            NoteUnwritten(count, va, slot);
            return true;
        }
        if (!_out->HasBuffer)
        {
            Coarsen(flush);
            if (inline && _p.WriteProtect)
                NoteUnwritten(count, va, slot);
            return true;
        }
        int stop = !_uniform ? Regions(categories, kept, count, va)
            : inline ? RunsOfKept(kept, count, va)
            : UniformRegions(kept, count, va);
        if (!inline && _p.WriteProtect && stop > 0)
        {
            ushort* scratch = stackalloc ushort[512];
            Span<ulong> again = stackalloc ulong[8];
            Kernel(entries, stop, _p, scratch, again, flush);
        }
        Coarsen(flush);
        if (stop < count)
        {
            _stopAt = _out->WalkEnd;
            return false;
        }
        if (_p.WriteProtect)
            NoteUnwritten(count, va, slot); // every written entry was kept, and every kept one is protected now
        return true;
    }

    /// <summary>
    /// A sparse run whose kept pages all report alike and that cannot stop (<c>Run</c>'s
    /// common case on a rescan): the rule at the entries to read, word by word, each word's
    /// kept pages output at once, and one flush range from the first page that owes one to the
    /// last (as <see cref="Coarsen"/>). Returns the pages kept.
    /// </summary>
    private readonly long SparseRuns<TMode>(ulong* entries, Span<ulong> unread, ulong va)
        where TMode : struct, ITableWriteMode
    {
        var rule = new ScanScalar.WordRule(_p, TMode.Shared);
        long found = _out->Found;
        int first = -1, last = -1;
        if (rule.Populated && rule.WrittenOnly)
            WrittenWords(entries, unread, va, _p, _uniformReport, _out, ref first, ref last);
        else
            Words<TMode>(entries, unread, va, _p, rule, _uniformReport, ref *_out, ref first, ref last);
        if (first >= 0)
            _flush.Add(va + ((ulong)first << 12), va + ((ulong)(last + 1) << 12));
        return _out->Found - found;
    }

    /// <summary><see cref="SparseRuns{TMode}"/>'s loop for any request: its own method, so its state stays in registers.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Words<TMode>(ulong* entries, Span<ulong> unread, ulong va, in ScanParams p, in ScanScalar.WordRule rule,
        PageCategories report, ref ScanOutput outputRef, ref int first, ref int last)
        where TMode : struct, ITableWriteMode
    {
        var output = outputRef;
        int f = -1, l = -1;
        for (int w = 0; w < unread.Length; w++)
        {
            ulong bits = unread[w];
            if (bits == 0)
                continue;
            ulong flushWord = 0;
            ulong kept = ScanScalar.ApplyWord<TMode>(entries + (w << 6), bits, p, rule, null, ref flushWord);
            output.OutputRuns(kept, va + ((ulong)w << 18), report);
            Flushed(w, flushWord, ref f, ref l);
        }
        outputRef = output;
        first = f;
        last = l;
    }

    /// <summary>
    /// <see cref="SparseRuns{TMode}"/>'s loop for dirty tracking's request in exclusive tables
    /// without soft-dirty: <see cref="ScanScalar.WrittenWord{TPages}"/> stores each written
    /// page's region as it protects it (one loop per word, not one more for its runs, whose exit
    /// mispredicts once a word). A word with entries for the rule (a swap entry, a marker) has
    /// its regions made again, in order with the pages the rule keeps.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void WrittenWords(ulong* entries, Span<ulong> unread, ulong va, in ScanParams p, PageCategories report,
        ScanOutput* output, ref int first, ref int last)
    {
        var pages = output->BeginAppend(report);
        long found = 0;
        int f = -1, l = -1;
        for (int w = 0; w < unread.Length; w++)
        {
            ulong bits = unread[w];
            if (bits == 0)
                continue;
            ulong* at = entries + (w << 6);
            ulong wordVa = va + ((ulong)w << 18), kept = 0, flushWord = 0;
            ulong others = ScanScalar.WrittenWord(at, bits, wordVa, ref kept, ref flushWord, ref pages);
            if (others != 0)
            {
                // Rare: `pages` is as it was before this word; its pages again, in order with those the rule keeps.
                kept |= ScanScalar.Others<ExclusiveTables>(at, others, p, null, ref flushWord);
                for (ulong k = kept; k != 0; k &= k - 1)
                    pages.Kept(wordVa + (ulong.TrailingZeroCount(k) << 12));
            }
            found += BitOperations.PopCount(kept);
            Flushed(w, flushWord, ref f, ref l);
        }
        output->EndAppend(pages, found);
        first = f;
        last = l;
    }

    /// <summary>The first and last page of a run that owe a flush, word by word (its sparse loops and <see cref="Coarsen"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flushed(int w, ulong flushWord, ref int first, ref int last)
    {
        if (flushWord == 0)
            return;
        if (first < 0)
            first = (w << 6) + BitOperations.TrailingZeroCount(flushWord);
        last = (w << 6) + 63 - BitOperations.LeadingZeroCount(flushWord);
    }

    /// <summary>A run that now holds no WRITTEN page (see <see cref="UnwrittenPages.KeepsExactlyWritten"/>).</summary>
    private readonly void NoteUnwritten(int count, ulong va, int slot)
    {
        if (_noteUnwritten)
            _unwritten!.Add(va, count, slot);
    }

    /// <summary>
    /// A run with at most one entry in this many to read goes entry by entry (the scalar rule
    /// at each); more, and one vector pass over the run is cheaper.
    /// </summary>
    private const int SparseFraction = 4;

    /// <summary>
    /// The run's entries [first, first + count) of a table whose known-unwritten mask is
    /// <paramref name="known"/>, as run-relative bits of the ones to read (one word per 64
    /// entries of the run); returns how many.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Unread(ReadOnlySpan<ulong> known, int first, int count, Span<ulong> unread)
    {
        int n = 0;
        if (first == 0 && count == 512 && known.Length == 8)
        {
            // A whole table (a rescan's usual run): the complement, word for word.
            for (int w = 0; w < 8; w++)
            {
                unread[w] = ~known[w];
                n += BitOperations.PopCount(unread[w]);
            }
            return n;
        }
        for (int w = 0; w < unread.Length; w++)
        {
            int b = first + (w << 6), k = b >> 6, shift = b & 63;
            ulong bits = Word(known, k) >> shift;
            if (shift != 0)
                bits |= Word(known, k + 1) << (64 - shift);
            bits = ~bits;
            int left = count - (w << 6);
            if (left < 64)
                bits &= (1UL << left) - 1;
            unread[w] = bits;
            n += BitOperations.PopCount(bits);
        }
        return n;

        static ulong Word(ReadOnlySpan<ulong> known, int k) => k < known.Length ? known[k] : 0;
    }

    /// <summary>
    /// One flush range per PTE run, from the first entry the scan protected to the last, as
    /// Linux's pagemap_scan_pmd_entry flushes: written pages are scattered, and a range per
    /// page would cost more to record (and to invalidate) than the pages between them.
    /// </summary>
    private static void Coarsen(Span<ulong> flush)
    {
        int first = -1, last = -1;
        for (int w = 0; w < flush.Length; w++)
            Flushed(w, flush[w], ref first, ref last);
        if (first >= 0 && last > first)
            KernelBits.SetRange(flush, first, last + 1);
    }

    private readonly long Kernel(ulong* entries, int count, in ScanParams p, ushort* categories, Span<ulong> kept, Span<ulong> flush) =>
        _shared
            ? ScanKernels.Apply<SharedTables>(_isa, entries, count, p, categories, kept, flush)
            : ScanKernels.Apply<ExclusiveTables>(_isa, entries, count, p, categories, kept, flush);

    /// <summary>
    /// Outputs the kept entries of a run as ranges of equal categories; returns how many
    /// entries were dealt with (count, or the index of the first page that did not fit).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private readonly int Regions(ushort* categories, Span<ulong> kept, int count, ulong va)
    {
        var output = *_out; // a local: its fields stay in registers across the outputs
        int stop = Regions(ref output, categories, kept, count, va);
        *_out = output;
        return stop;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Regions(ref ScanOutput output, ushort* categories, Span<ulong> kept, int count, ulong va)
    {
        int words = (count + 63) >> 6;
        int i = NextSet(kept, 0, words);
        while (i < count)
        {
            int runEnd = Math.Min(NextClear(kept, i + 1, words), count);
            ushort c = categories[i];
            int segEnd = i + 1 == runEnd ? runEnd : FirstDifferent(categories, i + 1, runEnd, c);
            ulong end = va + ((ulong)segEnd << 12);
            if (!output.Output((PageCategories)c, va + ((ulong)i << 12), ref end))
                return (int)((end - va) >> 12);
            i = segEnd < runEnd ? segEnd : NextSet(kept, runEnd, words);
        }
        return count;
    }

    /// <summary>
    /// <c>Regions</c> when every kept entry reports <see cref="_uniformReport"/>: each
    /// run of kept bits is one output (runs that cross a word merge in the output).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private readonly int UniformRegions(Span<ulong> kept, int count, ulong va)
    {
        var output = *_out; // a local: its fields stay in registers across the outputs
        var report = _uniformReport;
        int words = (count + 63) >> 6;
        for (int w = 0; w < words; w++)
        {
            ulong k = kept[w];
            while (k != 0)
            {
                int s = BitOperations.TrailingZeroCount(k);
                int len = BitOperations.TrailingZeroCount(~(k >> s));
                ulong from = va + ((ulong)(w * 64 + s) << 12);
                ulong end = from + ((ulong)len << 12);
                if (!output.Output(report, from, ref end))
                {
                    *_out = output;
                    return (int)((end - va) >> 12);
                }
                k = len == 64 ? 0 : k & ~(((1UL << len) - 1) << s);
            }
        }
        *_out = output;
        return count;
    }

    /// <summary><c>UniformRegions</c> when the run can neither fill the buffer nor reach the page limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private readonly int RunsOfKept(Span<ulong> kept, int count, ulong va)
    {
        var output = *_out; // a local: its fields stay in registers across the outputs
        int words = (count + 63) >> 6;
        for (int w = 0; w < words; w++)
            output.OutputRuns(kept[w], va + ((ulong)w << 18), _uniformReport);
        *_out = output;
        return count;
    }

    /// <summary>The first set bit at or after <paramref name="from"/> (words * 64 if none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NextSet(Span<ulong> bits, int from, int words)
    {
        int w = from >> 6;
        if (w >= words)
            return words << 6;
        ulong x = bits[w] & (ulong.MaxValue << (from & 63));
        while (x == 0)
        {
            if (++w == words)
                return words << 6;
            x = bits[w];
        }
        return (w << 6) + BitOperations.TrailingZeroCount(x);
    }

    /// <summary>The first clear bit at or after <paramref name="from"/> (words * 64 if none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NextClear(Span<ulong> bits, int from, int words)
    {
        int w = from >> 6;
        if (w >= words)
            return words << 6;
        ulong x = ~bits[w] & (ulong.MaxValue << (from & 63));
        while (x == 0)
        {
            if (++w == words)
                return words << 6;
            x = ~bits[w];
        }
        return (w << 6) + BitOperations.TrailingZeroCount(x);
    }

    /// <summary>The first index in [from, to) whose category differs from <paramref name="c"/> (to if none).</summary>
    private static int FirstDifferent(ushort* categories, int from, int to, ushort c)
    {
        int i = from;
        if (Vector256.IsHardwareAccelerated)
        {
            var want = Vector256.Create(c);
            for (; i + Vector256<ushort>.Count <= to; i += Vector256<ushort>.Count)
            {
                uint diff = ~Vector256.Equals(Vector256.Load(categories + i), want).ExtractMostSignificantBits();
                if (diff != 0)
                    return i + BitOperations.TrailingZeroCount(diff);
            }
        }
        for (; i < to; i++)
            if (categories[i] != c)
                return i;
        return to;
    }

    public bool Hole(ulong va, ulong end)
    {
        if (!_p.Keeps(_holeCategories))
            return true;
        ulong outEnd = end;
        bool go = _out->Output(_holeCategories & _p.Return, va, ref outEnd);
        if (outEnd != va && _p.WriteProtect && (_holeCategories & PageCategories.Written) != 0)
        {
            // uffd_wp_range: markers into the hole, tables made on the way.
            var markers = ChangeProtectionParams.UffdWriteProtect(PgProt.None, useMarkers: true);
            var r = PageTableOps.ChangeProtection(_space, va, outEnd, markers, _flush);
            if (!r.Complete)
            {
                // Report only what was protected: the rest is still a written hole for the next scan.
                _out->Backout(r.WalkEnd, outEnd);
                OutOfTables = true;
                _stopAt = r.WalkEnd;
                return false;
            }
        }
        if (!go)
            _stopAt = _out->WalkEnd;
        return go;
    }

    public HugeAction Huge(ulong* entry, int level, ulong leafVa, ulong from, ulong to, ref long changed, ref bool flush)
    {
        ulong e = _shared ? Volatile.Read(ref *entry) : *entry;
        var cats = HugeCategories(e);
        if (!_p.Keeps(cats))
            return HugeAction.Done;
        ulong end = to;
        bool go = _out->Output(cats & _p.Return, from, ref end);
        changed += (long)((end - from) >> 12);
        if (end != from && _p.WriteProtect && (cats & PageCategories.Written) != 0)
        {
            if (end - from != 1UL << AddressSpace.Shift(level))
            {
                // Only part of the leaf is kept: split it, take the output back, scan its PTEs.
                changed -= (long)((end - from) >> 12);
                _out->Backout(from, end);
                switch (_splitter?.TrySplit(leafVa, level) ?? SplitOutcome.NotMine)
                {
                    case SplitOutcome.Split:
                        return HugeAction.Descend;
                    case SplitOutcome.OutOfTables:
                        OutOfTables = true;
                        _stopAt = from;
                        return HugeAction.Stop;
                    default:
                        return HugeAction.Split;
                }
            }
            while (true)
            {
                ulong v = LinuxPte.IsPmdPresent(e) ? LinuxPte.MkUffdWp(e) : e | SwapEntry.UffdWp;
                if (_shared ? TableWrite.TryCommit<SharedTables>(entry, v, ref e) : TableWrite.TryCommit<ExclusiveTables>(entry, v, ref e))
                {
                    flush = FlushRules.NeedsFlush(e, v);
                    break;
                }
            }
        }
        if (!go)
        {
            _stopAt = _out->WalkEnd;
            return HugeAction.Stop;
        }
        return HugeAction.Done;
    }

    /// <summary>pagemap_thp_category plus the VMA's categories.</summary>
    private readonly PageCategories HugeCategories(ulong e)
    {
        var c = _p.VmaCategories | PageCategories.Huge;
        if (LinuxPte.IsPmdPresent(e))
        {
            c |= PageCategories.Present;
            if ((e & Pte.UffdWp) == 0)
                c |= PageCategories.Written;
            if (_p.TrackSoftDirty && (e & Pte.SoftDirty) != 0)
                c |= PageCategories.SoftDirty;
            ulong frame = L1tf.NeedsInvert(e) ? (e ^ Pte.Pfn2MMask) & Pte.Pfn2MMask : e & Pte.Pfn2MMask;
            if ((frame >> 12) == _hugeZeroPfn)
                c |= PageCategories.PfnZero;
            else if ((e & Pte.Special) == 0)
                c |= _p.NormalPageCategories;
            return c;
        }
        c |= PageCategories.Swapped;
        if ((e & SwapEntry.UffdWp) == 0)
            c |= PageCategories.Written;
        if (_p.TrackSoftDirty && (e & SwapEntry.SoftDirty) != 0)
            c |= PageCategories.SoftDirty;
        return c;
    }
}
