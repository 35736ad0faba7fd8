// A FastPT user's program: the README's API tour, built against the FastPT package.
// The lines between the two markers are the README's code block, character for character;
// tests/FastPT.Tests/Docs/ReadmeTourTests.cs fails when they differ, and
// `FASTPT_UPDATE_TOUR=1 dotnet test tests/FastPT.Tests -c Release --filter ReadmeTour` copies the block here.
// <readme-tour>
using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Uffd;
using FastPT.Walk;

// Tables: 4 KiB-aligned native blocks (or GuestMemoryTableSource over a guest's RAM).
using var tables = new NativeTableSource();
using var space = new AddressSpace(tables, levels: 4);        // space.Root is the CR3 value

space.Map(0x4000_0000, 0x1_0000_0000, PageSize.Size2M, PgProt.Shared | Pte.Dirty);
space.Map(0x4020_0000, 0x2_0000_0000, PageSize.Size4K, PgProt.Shared);

// The hardware walk: rights combined over all levels, A/D set, #PF error code on failure.
var t = space.Translate(0x4020_0123, AccessType.Write, new CpuMode(User: true));
// t.Success, t.PhysicalAddress == 0x2_0000_0123, t.Size == PageSize.Size4K

// Batch: userfaultfd write-protect of a range, markers into empty entries, tables made lazily.
var flush = new FlushPlan();
var wp = ChangeProtectionParams.UffdWriteProtect(PgProt.ReadOnly, useMarkers: true);
WalkResult r = PageTableOps.ChangeProtection(space, 0x4000_0000, 0x8000_0000, wp, flush);
// r.EntriesChanged, r.TablesAllocated, r.WalkEnd; flush.Ranges: what a TLB may still hold
space.Verify().ThrowIfInvalid();  // debug builds: every table reachable once, entries valid, none leaked

// Linux semantics on top: VMAs, page cache, the fault path, pagemap, PAGEMAP_SCAN.
using var mm = new MemoryModel(UffdFeatures.WpAsync);
mm.Map(0x7f00_0000_0000, 64 << 12, Backing.File, MemoryProtection.ReadWrite);
mm.RegisterWriteProtect(0x7f00_0000_0000, 64 << 12);
flush.Clear();
mm.WriteProtect(0x7f00_0000_0000, 64 << 12, protect: true, flush);  // -SW- markers
var access = mm.Access(0x7f00_0000_1000, write: true, flush);         // async: resolves itself
var regions = new PageRegion[16];                                     // like PAGEMAP_SCAN's vec
var written = mm.Scan(0x7f00_0000_0000, 0x7f00_0004_0000,
    new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true), regions, flush);
// regions[..written.RegionCount]; every verb that can change a present entry fills a flush plan
// </readme-tour>

// Name the FastPT that ran, so .ci/run can tell the packed package from any other copy.
Console.WriteLine("README tour ran on FastPT " + AppDomain.CurrentDomain.GetAssemblies()
    .Single(assembly => assembly.GetName().Name == "FastPT")
    .GetCustomAttributes(false).OfType<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion);
