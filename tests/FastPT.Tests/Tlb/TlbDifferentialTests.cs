using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Tests.Entries;
using FastPT.Tests.Memory;
using FastPT.Tlb;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Tlb;

/// <summary>
/// The TLB's coherence, differentially: random sequences of FastPT verbs (map, protect, zap,
/// harvest, split), guest edits of leaves and links (followed by the invalidation the guest
/// owes: INVLPG, a range, a CR3 write, none where permissions only grow), mode, CR3, PCID and
/// PGE changes, interleaved with translations through the TLB (single and batch) and through
/// a fresh walk of the same tables. Every translation must agree; and one invalidation
/// skipped on purpose must be noticed.
/// </summary>
public sealed unsafe class TlbDifferentialTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // At least 8 even when counts are scaled down: over fewer sequences the share of TLB hits
    // checked below depends on the seeds.
    private static readonly int Sequences = (int)Math.Max(PropertyRuns.Iter(24), 8);
    private const int Steps = 2500;

    [Fact]
    public void EveryTranslationThroughTheTlbIsWhatAFreshWalkSays()
    {
        var total = new Stats();
        for (int seed = 1; seed <= Sequences; seed++)
        {
            using var run = new Sequence(seed, skipInvalidation: -1);
            string? difference = run.Run(Steps);
            Assert.True(difference == null, difference);
            total.Add(run.Stats);
        }
        output.WriteLine($"{Sequences} sequences x {Steps} steps: {total}");
        // The sequences must exercise what they claim to, or agreement proves little.
        Assert.True(total.Hits > total.Translations / 5, $"too few hits: {total}");
        Assert.True(total.PlanInvalidations > 0 && total.GuestLeafEdits > 0 && total.GuestLinkEdits > 0 && total.Cr3Writes > 0
            && total.HugeHits > 0 && total.Faults > 0 && total.Outside > 0 && total.UnflushedEdits > 0, total.ToString());
    }

    [Fact]
    public void AMissedInvalidationIsCaught()
    {
        int caught = 0, runs = 12;
        for (int seed = 1; seed <= runs; seed++)
        {
            using var run = new Sequence(seed, skipInvalidation: 100 + 37 * seed);
            if (run.Run(Steps) is { } difference)
            {
                caught++;
                if (caught == 1)
                    output.WriteLine($"first catch: {difference}");
            }
        }
        output.WriteLine($"{caught} of {runs} sequences noticed the one skipped invalidation");
        Assert.True(caught >= runs / 2, $"only {caught} of {runs} sequences noticed a skipped invalidation");
    }

    internal sealed class Stats
    {
        public long[] ByError = new long[64];
        public long Translations, Hits, HugeHits, Faults, Outside, PlanInvalidations, GuestLeafEdits, GuestLinkEdits, UnflushedEdits, Cr3Writes;

        public void Add(Stats o)
        {
            Translations += o.Translations; Hits += o.Hits; HugeHits += o.HugeHits; Faults += o.Faults; Outside += o.Outside;
            PlanInvalidations += o.PlanInvalidations; GuestLeafEdits += o.GuestLeafEdits; GuestLinkEdits += o.GuestLinkEdits;
            UnflushedEdits += o.UnflushedEdits; Cr3Writes += o.Cr3Writes;
            for (int i = 0; i < 64; i++) ByError[i] += o.ByError[i];
        }

        public override string ToString() =>
            $"{Translations} translations ({Hits} TLB-held, {HugeHits} of huge pages, {Faults} faults, {Outside} outside guest memory), " +
            string.Join(" ", ByError.Select((n, i) => n > 0 ? $"e{i:X}:{n}" : "")) + " " +
            $"{PlanInvalidations} flush plans applied, {GuestLeafEdits} guest leaf edits ({UnflushedEdits} needing no flush), {GuestLinkEdits} guest link edits, {Cr3Writes} CR3 writes";
    }

    /// <summary>One random sequence over one address space and its TLB.</summary>
    private sealed class Sequence : IDisposable
    {
        private static readonly ulong[] Windows = [0x0000_1000_0000_0000, 0x0000_7FFF_FE00_0000, 0xFFFF_8880_0000_0000];
        private const ulong WindowBytes = 16UL << 20;
        private const ulong HugeWindow = 0x0000_2000_0000_0000;
        private const ulong Hole = 0x8000_0000;

        private readonly Random _rng;
        private readonly GuardedGuestMemory _ram = new((0x10_0000, 1024));
        private readonly AddressSpace _space;
        private readonly SoftwareTlb _tlb;
        private readonly FlushPlan _flush = new();
        private readonly List<(ulong Va, PageSize Size)> _mapped = [];
        private readonly List<(nint Slot, ulong Value, int Step)> _broken = [];
        private readonly List<(ulong Va, AccessType Access)> _good = [];
        private readonly int _skip;
        private bool _skipped;
        private readonly List<(ulong Va, AccessType Access)> _probeNext = [];
        private int _step;

        public Sequence(int seed, int skipInvalidation)
        {
            _rng = new Random(seed);
            _skip = skipInvalidation;
            _space = new AddressSpace(new GuestMemoryTableSource(_ram.Map, 0x10_0000, 1024 * 4096));
            _tlb = new SoftwareTlb(_space, CpuMode.UserMode, entriesPerMode: _rng.Next(3) switch { 0 => 16, 1 => 128, _ => 1024 });
            for (int i = 0; i < 300; i++)
                TryMap(PageSize.Size4K);
            for (int i = 0; i < 12; i++)
                TryMap(PageSize.Size2M);
        }

        public Stats Stats { get; } = new();

        public void Dispose() => _ram.Dispose();

        /// <summary>Runs the steps; the first disagreement as text, or null.</summary>
        public string? Run(int steps)
        {
            for (_step = 0; _step < steps; _step++)
            {
                int k = _rng.Next(100);
                string? d = k switch
                {
                    < 70 => Translate(),
                    < 73 => ChangeMode(),
                    < 78 => MapStep(),
                    < 82 => Protect(),
                    < 83 => ZapStep(),
                    < 85 => HarvestStep(),
                    < 92 => EditLeaf(),
                    < 94 => EditLink(),
                    < 95 => SplitStep(),
                    < 98 => Cr3Step(),
                    _ => Spurious(),
                };
                // Right after a planted missed invalidation, the pages it concerned are translated.
                foreach (var (va, access) in _probeNext)
                    d ??= Compare(va, access, _space.Translate(va, access, _tlb.Mode, updateAccessedDirty: false), _tlb.Translate(va, access), held: true);
                _probeNext.Clear();
                if (d != null)
                    return $"step {_step}: {d}";
                Repair();
            }
            return null;
        }

        /// <summary>Mostly a page something was mapped at (a few dozen, so the TLB holds them), else anywhere in the windows.</summary>
        private ulong Page()
        {
            if (_mapped.Count > 0 && _rng.Next(100) < 85)
            {
                var (va, size) = _mapped[_rng.Next(_mapped.Count)];
                return size == PageSize.Size4K ? va : va + ((ulong)_rng.Next(8) << 16); // a few pages of a huge leaf, so they are held
            }
            return AnyPage();
        }

        private ulong AnyPage() => Windows[_rng.Next(Windows.Length)] + ((ulong)_rng.NextInt64((long)(WindowBytes >> 12)) << 12);

        /// <summary>2 MiB leaves get a window of their own (elsewhere 4 KiB pages have made PTE tables everywhere).</summary>
        private ulong AnyHugePage() => HugeWindow + ((ulong)_rng.Next(32) << 21);

        private ulong LeafFlags() =>
            Pte.Present | Bit(Pte.Writable, 80) | Bit(Pte.User, 90) | Bit(Pte.NoExecute, 15) | Bit(Pte.Global, 20)
            | Bit(Pte.Accessed, 50) | Bit(Pte.Dirty, 50) | ((ulong)_rng.Next(4) << Pte.PkeyShift);

        private ulong Bit(ulong bit, int percent) => _rng.Next(100) < percent ? bit : 0;

        private ulong Frame(PageSize size) => ((ulong)_rng.Next(1 << 20) << 12) & ~(size.Bytes() - 1);

        private void TryMap(PageSize size)
        {
            ulong va = (size == PageSize.Size2M ? AnyHugePage() : _rng.Next(10) < 7 ? AnyPage() : Page()) & ~(size.Bytes() - 1);
            ulong* old = _space.TryGetEntry(va, size.LeafLevel());
            bool wasPresent = old != null && (*old & Pte.Present) != 0;
            try
            {
                _space.Map(va, Frame(size), size, LeafFlags(), PgProt.Table);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException)
            {
                return; // a huge leaf or a table is in the way, no table left, or a link into the hole
            }
            if (wasPresent)
                Invalidate(() => _tlb.InvalidatePage(va), va, va + 4096); // the guest replaced a live entry: INVLPG
            // A few dozen hot pages, the last mapped, so the TLB can hold them.
            if (_mapped.Count < 40)
                _mapped.Add((va, size));
            else
                _mapped[_rng.Next(_mapped.Count)] = (va, size);
        }

        private string? MapStep()
        {
            TryMap(_rng.Next(3) == 0 ? PageSize.Size2M : PageSize.Size4K);
            return null;
        }

        /// <summary>
        /// An invalidation the change of [start, end) owed. With a planted bug, the first owed
        /// after step <see cref="_skip"/> while the TLB holds a page of the range is left out.
        /// </summary>
        private void Invalidate(Action invalidate, ulong start, ulong end)
        {
            if (_skip >= 0 && _step >= _skip && !_skipped && Held(start, end) is { Count: > 0 } held)
            {
                _skipped = true;
                _probeNext.AddRange(held);
                return;
            }
            invalidate();
        }

        /// <summary>The accesses lately made to pages of [start, end) that the TLB holds.</summary>
        private List<(ulong Va, AccessType Access)> Held(ulong start, ulong end)
        {
            var held = new List<(ulong, AccessType)>();
            foreach (var (va, _) in _good)
            {
                for (var access = AccessType.Read; access <= AccessType.Execute; access++)
                {
                    if (va - start < end - start && _tlb.Holds(va, access))
                        held.Add((va, access));
                }
            }
            return held;
        }

        private static ulong PageBytes(int level) => 1UL << AddressSpace.Shift(level);

        private string? Translate()
        {
            if (_rng.Next(8) == 0)
                return TranslateBatch();
            // Half the time an access that worked lately (programs touch the same pages again).
            var (va, access) = _good.Count > 0 && _rng.Next(2) == 0 ? _good[_rng.Next(_good.Count)] : (Page() | (uint)_rng.Next(4096), Access());
            var fresh = _space.Translate(va, access, _tlb.Mode, updateAccessedDirty: false);
            if (fresh.Success)
            {
                if (_good.Count < 16)
                    _good.Add((va, access));
                else
                    _good[_rng.Next(16)] = (va, access);
            }
            bool held = _tlb.Holds(va, access);
            var cached = _tlb.Translate(va, access);
            return Compare(va, access, fresh, cached, held);
        }

        private string? TranslateBatch()
        {
            var access = Access();
            var vas = new ulong[_rng.Next(1, 24)];
            for (int i = 0; i < vas.Length; i++)
                vas[i] = _good.Count > 0 && _rng.Next(2) == 0 ? _good[_rng.Next(_good.Count)].Va : Page() | (uint)_rng.Next(4096);
            var fresh = vas.Select(va => _space.Translate(va, access, _tlb.Mode, updateAccessedDirty: false)).ToArray();
            var held = vas.Select(va => _tlb.Holds(va, access)).ToArray();
            var cached = new TranslateResult[vas.Length];
            _tlb.Translate(vas, access, cached);
            for (int i = 0; i < vas.Length; i++)
            {
                if (Compare(vas[i], access, fresh[i], cached[i], held[i]) is { } d)
                    return "batch: " + d;
            }
            return null;
        }

        private AccessType Access() => _rng.Next(10) switch { < 5 => AccessType.Read, < 8 => AccessType.Write, _ => AccessType.Execute };

        private string? Compare(ulong va, AccessType access, TranslateResult fresh, TranslateResult cached, bool held)
        {
            Stats.Translations++;
            if (!fresh.Success)
            {
                Stats.Faults++;
                Stats.ByError[(int)fresh.ErrorCode & 63]++;
            }
            if (fresh.OutsideGuestMemory)
                Stats.Outside++;
            if (held)
            {
                Stats.Hits++;
                if (cached.Size != PageSize.Size4K)
                    Stats.HugeHits++;
            }
            return fresh == cached ? null : $"{access} 0x{va:X} at {_tlb.Mode} ({(held ? "held by the TLB" : "walked by the TLB")}): TLB {cached}, walk {fresh}";
        }

        private string? ChangeMode()
        {
            var m = _tlb.Mode;
            _tlb.Mode = _rng.Next(4) switch
            {
                0 => m with { User = !m.User },
                1 => m with { AlignmentCheck = !m.AlignmentCheck },
                2 => m with { User = _rng.Next(3) != 0, Smap = _rng.Next(4) == 0, Smep = _rng.Next(4) == 0, WriteProtect = _rng.Next(4) != 0 },
                _ => m with { Nxe = _rng.Next(5) != 0, ProtectionKeys = _rng.Next(4) == 0, Pkru = (uint)_rng.Next(256) },
            };
            return null;
        }

        private (ulong Start, ulong End) Range()
        {
            ulong start = Page();
            ulong* pde = _space.TryGetEntry(start, 2);
            if (pde != null && (*pde & (Pte.Present | Pte.PageSize)) == (Pte.Present | Pte.PageSize) && _rng.Next(4) != 0)
                return (start & ~0x1F_FFFFUL, (start & ~0x1F_FFFFUL) + 0x20_0000); // a whole huge leaf: changed, not split
            ulong pages = _rng.Next(6) == 0 ? (ulong)_rng.Next(1, 3) * 512 : (ulong)_rng.Next(1, 24);
            if (_rng.Next(6) == 0)
                start &= ~0x1F_FFFFUL;
            return (start, start + (pages << 12));
        }

        /// <summary>
        /// Applies a verb's flush plan. The raw walker splits a present huge leaf the range covers
        /// only in part without putting its range in the plan (Linux's split does flush it:
        /// pmdp_invalidate), so the huge extents at the range's ends are flushed here too.
        /// </summary>
        private void ApplyPlan(WalkResult r, ulong start, ulong end)
        {
            Stats.PlanInvalidations++;
            if (_flush.Count == 0 && r.HugeSplits == 0)
                return;
            Invalidate(() =>
            {
                _tlb.Invalidate(_flush);
                if (r.HugeSplits > 0)
                {
                    _tlb.InvalidateRange(start & ~0x1F_FFFFUL, (start & ~0x1F_FFFFUL) + 0x20_0000);
                    _tlb.InvalidateRange((end - 1) & ~0x1F_FFFFUL, ((end - 1) & ~0x1F_FFFFUL) + 0x20_0000);
                }
            }, start & ~0x1F_FFFFUL, ((end - 1) & ~0x1F_FFFFUL) + 0x20_0000);
        }

        private string? Protect()
        {
            var (start, end) = Range();
            _flush.Clear();
            var p = _rng.Next(4) switch
            {
                0 => ChangeProtectionParams.Mprotect(_rng.Next(2) == 0 ? PgProt.ReadOnly : PgProt.ReadOnlyExec, writable: false, shared: true),
                1 => ChangeProtectionParams.Mprotect(_rng.Next(2) == 0 ? PgProt.Shared : PgProt.SharedExec, writable: true, shared: true),
                2 => ChangeProtectionParams.UffdWriteProtect(PgProt.Shared, useMarkers: _rng.Next(2) == 0),
                _ => ChangeProtectionParams.UffdUnprotect(PgProt.Shared),
            };
            var r = PageTableOps.ChangeProtection(_space, start, end, p, _flush);
            ApplyPlan(r, start, end);
            return null;
        }

        private string? ZapStep()
        {
            var (start, end) = Range();
            _flush.Clear();
            var r = PageTableOps.Zap(_space, start, end, _rng.Next(2) == 0 ? ZapParams.Unmap : ZapParams.DontNeedFileUffdWp, _flush);
            ApplyPlan(r, start, end);
            return null;
        }

        private string? HarvestStep()
        {
            var (start, end) = Range();
            _flush.Clear();
            var r = PageTableOps.Harvest(_space, start, end, new ulong[((end - start) >> 12) / 64 + 1], HarvestBit.Dirty, _flush);
            ApplyPlan(r, start, end);
            return null;
        }

        /// <summary>The guest rewrites a leaf, then does what the architecture asks of it.</summary>
        private string? EditLeaf()
        {
            ulong va = Page();
            ulong* slot = Leaf(va, out int level);
            if (slot == null)
                return null;
            ulong old = *slot;
            if ((old & Pte.Present) == 0 && old != 0 && _rng.Next(2) == 0)
                return null;
            ulong e = old;
            bool owesFlush = true;
            switch (_rng.Next(9))
            {
                case 0: e |= Pte.Writable; owesFlush = false; break;                  // more rights: no flush owed
                case 1: e &= ~Pte.NoExecute; owesFlush = false; break;
                case 2: e ^= Pte.Accessed; owesFlush = false; break;                  // A never needs one
                case 3: e |= Pte.Dirty; owesFlush = false; break;
                case 4: e &= ~(Pte.Writable | Pte.Dirty); break;
                case 5: e ^= Pte.User | Pte.Global; break;
                case 6: e ^= Pte.Present; owesFlush = (old & Pte.Present) != 0; break;
                case 7: e = (e & ~Pte.PkeyMask) | ((ulong)_rng.Next(16) << Pte.PkeyShift) | Pte.NoExecute; break;
                default: e = e & ~(level == 1 ? Pte.PfnMask : level == 2 ? Pte.Pfn2MMask : Pte.Pfn1GMask) | Frame((PageSize)(level - 1)); break;
            }
            *slot = e;
            Stats.GuestLeafEdits++;
            if (!owesFlush)
                Stats.UnflushedEdits++;
            else
            {
                // INVLPG of any page the leaf maps: for a huge leaf the CPU drops all of it.
                ulong page = level == 1 ? va : (va & ~0x1F_FFFFUL) | ((ulong)_rng.Next(512) << 12);
                bool cr3 = _rng.Next(4) == 0 && !_tlb.GlobalPages && !_tlb.Pcide;
                Invalidate(() =>
                {
                    if (cr3)
                        _tlb.WriteCr3(_space.Root);
                    else
                        _tlb.InvalidatePage(page);
                }, va & ~(PageBytes(level) - 1), (va & ~(PageBytes(level) - 1)) + PageBytes(level));
            }
            return null;
        }

        /// <summary>The slot that ends va's walk (a leaf or a non-present entry), or null past a link into the hole.</summary>
        private ulong* Leaf(ulong va, out int level)
        {
            for (level = _space.Levels; level >= 1; level--)
            {
                ulong* slot = _space.TryGetEntry(va, level);
                if (slot == null)
                    return null;
                if (level == 1 || (*slot & Pte.Present) == 0 || AddressSpace.IsLeaf(*slot, level))
                    return slot;
            }
            return null;
        }

        /// <summary>The guest rewrites a link (level 2..4): rights, or where it points (another table, or a hole).</summary>
        private string? EditLink()
        {
            ulong va = Page();
            int level = _rng.Next(4) == 0 ? _rng.Next(3, _space.Levels + 1) : 2;
            ulong* slot = _space.TryGetEntry(va, level);
            if (slot == null || (*slot & Pte.Present) == 0 || AddressSpace.IsLeaf(*slot, level) || (*slot & Pte.PfnMask) == Hole)
                return null;
            ulong size = 1UL << AddressSpace.Shift(level);
            ulong start = va & ~(size - 1), other = start ^ size;
            ulong* sibling = _space.TryGetEntry(other, level);
            ulong old = *slot;
            int kind = _rng.Next(level == 2 ? 6 : 4); // only PD entries break (point into the hole, or lose P)
            if (kind == 0 && sibling != null && (*sibling & Pte.Present) != 0 && !AddressSpace.IsLeaf(*sibling, level) && (*sibling & Pte.PfnMask) != Hole)
            {
                // The guest swaps two tables. (Never makes two links share one: a flush plan names the
                // addresses a walk went through, and a shared table changes under both; docs/design.md.)
                *slot = *sibling;
                *sibling = old;
                Invalidate(() =>
                {
                    _tlb.InvalidateRange(start, start + size);
                    _tlb.InvalidateRange(other, other + size);
                }, Math.Min(start, other), Math.Max(start, other) + size);
                Stats.GuestLinkEdits++;
                return null;
            }
            *slot = kind switch
            {
                1 => old ^ Pte.Writable,
                2 => old ^ Pte.User,
                3 => old ^ Pte.NoExecute,
                4 => (old & ~Pte.PfnMask) | Hole,                                     // into the hole
                _ => old & ~Pte.Present,
            };
            if ((*slot & Pte.PfnMask) == Hole || (*slot & Pte.Present) == 0)
                _broken.Add(((nint)slot, old, _step));
            Stats.GuestLinkEdits++;
            int how = _rng.Next(3);
            Invalidate(() =>
            {
                if (how == 0)
                    _tlb.InvalidateRange(start, start + size);
                else if (how == 1 && !_tlb.GlobalPages && !_tlb.Pcide)
                    _tlb.WriteCr3(_space.Root);  // no global pages, no other PCIDs: a CR3 write flushes all there is
                else
                    _tlb.FlushAll();
            }, start, start + size);
            return null;
        }

        /// <summary>A link the guest broke a few steps ago is repaired: more rights, no flush owed.</summary>
        private void Repair()
        {
            if (_broken.Count == 0 || _broken[0].Step + 8 > _step)
                return;
            var (slot, value, _) = _broken[0];
            _broken.RemoveAt(0);
            ulong now = *(ulong*)slot;
            if ((now & Pte.PfnMask) == Hole || now == (value & ~Pte.Present)) // still as the guest broke it
            {
                *(ulong*)slot = value;
                Stats.UnflushedEdits++;
            }
        }

        private string? SplitStep()
        {
            ulong va = Page() & ~0x1F_FFFFUL;
            ulong* slot = _space.TryGetEntry(va, 2);
            if (slot == null || (*slot & Pte.Present) == 0 || (*slot & Pte.PageSize) == 0)
                return null;
            try
            {
                _space.Split(va, 2);
            }
            catch (TableAllocationException)
            {
                return null;
            }
            Invalidate(() => _tlb.InvalidateRange(va, va + 0x20_0000), va, va + 0x20_0000); // a split flushes its range
            return null;
        }

        private string? Cr3Step()
        {
            Stats.Cr3Writes++;
            switch (_rng.Next(8))
            {
                case 0: _tlb.Pcide = !_tlb.Pcide; break;
                case 1: _tlb.GlobalPages = !_tlb.GlobalPages; break;
                default:
                    ulong pcid = _tlb.Pcide ? (ulong)_rng.Next(4) : 0;
                    ulong noFlush = _tlb.Pcide && _rng.Next(2) == 0 ? 1UL << 63 : 0;
                    _tlb.WriteCr3(_space.Root | pcid | noFlush);
                    break;
            }
            return null;
        }

        /// <summary>Invalidations nobody owed: they must never make the TLB wrong either.</summary>
        private string? Spurious()
        {
            switch (_rng.Next(3))
            {
                case 0: _tlb.InvalidatePage(Page()); break;
                case 1: _tlb.InvalidatePcid(_rng.Next(4)); break;
                default:
                    ulong start = Page();
                    _tlb.InvalidateRange(start, start + 0x10_0000);
                    break;
            }
            return null;
        }
    }
}
