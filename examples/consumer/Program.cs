// A FastPT user's program: the README's API tour, built against the FastPT package.
// The lines between the two markers are the README's code block, character for character;
// tests/FastPT.Tests/Docs/ReadmeTourTests.cs fails when they differ, and
// `FASTPT_UPDATE_TOUR=1 dotnet test tests/FastPT.Tests -c Release --filter ReadmeTour` copies the block here.
// <readme-tour>
using FastPT;
using FastPT.Uffd;

// A 4-level table in native memory (PageTable.InGuestMemory puts the tables in a guest's RAM).
using var table = new PageTable();                  // table.Root is the CR3 value

// MapRange picks the leaves: here one of 1 GiB, one of 2 MiB and one of 4 KiB.
var m = table.MapRange(0x4000_0000, 0x8020_1000, 0x1_0000_0000, PageFlags.Writable | PageFlags.User);

// The hardware walk: rights combined over all levels, A/D set, #PF error code on failure.
var t = table.Translate(0x8020_0123, AccessType.Write, CpuMode.UserMode);
// t.Success, t.PhysicalAddress == 0x1_4020_0123, t.Size == PageSize.Size4K

// Write-protect keeps each entry's own bits; every verb that can change a present entry
// fills a flush plan: the ranges a TLB may still translate the old way.
var flush = new FlushPlan();
WalkResult r = table.WriteProtect(0x4000_0000, 0x8020_1000, flush);
var fault = table.Translate(0x8020_0123, AccessType.Write, CpuMode.UserMode);
// fault.Success == false, fault.ErrorCode == PageFaultError.Present | Write | User
flush.Clear();
table.Unprotect(0x4000_0000, 0x8020_1000, flush);

// Dirty logging: a CPU (here Translate) sets D; Harvest reports and clears it, a bit per 4 KiB page.
table.Translate(0x8000_0042, AccessType.Write, CpuMode.UserMode);
var dirty = new ulong[9];
table.Harvest(0x8000_0000, 0x8020_1000, dirty, flush);
// dirty[0..8]: all 512 pages of the 2 MiB leaf; dirty[8] bit 0: the 4 KiB page written above

table.Verify().ThrowIfInvalid();  // debug builds: every table reachable once, entries valid, none leaked

// Bad input throws PageTableException with a typed Error (C: a FASTPT_ERR_* status) and changes nothing.

// Linux semantics on top: VMAs, page cache, the fault path, pagemap, PAGEMAP_SCAN.
using var mm = new MemoryModel(UffdFeatures.WpAsync);
mm.Map(0x7f00_0000_0000, 64 << 12, Backing.File, MemoryProtection.ReadWrite);
mm.RegisterWriteProtect(0x7f00_0000_0000, 64 << 12, flush);
flush.Clear();
mm.WriteProtect(0x7f00_0000_0000, 64 << 12, protect: true, flush);  // -SW- markers
var access = mm.Access(0x7f00_0000_1000, write: true, flush);         // async: resolves itself
var regions = new PageRegion[16];                                     // like PAGEMAP_SCAN's vec
var written = mm.Scan(0x7f00_0000_0000, 0x7f00_0004_0000,
    new PagemapScanRequest(Mask: PageCategories.Written, WriteProtectMatching: true), regions, flush);
// regions[..written.RegionCount]
// </readme-tour>

// Name the FastPT that ran, so .ci/run can tell the packed package from any other copy.
Console.WriteLine("README tour ran on FastPT " + AppDomain.CurrentDomain.GetAssemblies()
    .Single(assembly => assembly.GetName().Name == "FastPT")
    .GetCustomAttributes(false).OfType<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion);
