using System.Runtime.InteropServices;

namespace FastPT.Native.Exports;

/// <summary>The front door's verbs (fastpt_map_range ... fastpt_translate) on table handles.</summary>
internal static unsafe class VerbExports
{
    public const uint HarvestAccessed = 1, HarvestAccumulate = 2, HarvestSplitPartialHuge = 4;
    public const uint ZapDropMarkers = 1, ZapKeepUffdWp = 2;
    public const uint TranslateNoAccessedDirty = 1;

    [UnmanagedCallersOnly(EntryPoint = "fastpt_map_range")]
    public static int MapRange(nint table, ulong start, ulong end, ulong physical, ulong flags, ulong largestPage, NativeMapResult* result)
    {
        try
        {
            if (Handles.Get<PageTable>(table, "table", out var t) is var s and not Status.Ok)
                return s;
            PageSize largest = largestPage switch
            {
                0 or 1UL << 30 => PageSize.Size1G,
                1UL << 21 => PageSize.Size2M,
                1UL << 12 => PageSize.Size4K,
                _ => (PageSize)(-1),
            };
            if ((int)largest < 0)
                return LastError.Set(Status.InvalidArgument, $"largest_page is FASTPT_PAGE_4K, FASTPT_PAGE_2M, FASTPT_PAGE_1G or 0 (1 GiB), not 0x{largestPage:X}");
            var m = t.MapRange(start, end, physical, (PageFlags)flags, largest);
            if (result != null)
                *result = new NativeMapResult { Leaves4K = m.Leaves4K, Leaves2M = m.Leaves2M, Leaves1G = m.Leaves1G, TablesAllocated = m.TablesAllocated };
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_unmap_range")]
    public static int UnmapRange(nint table, ulong start, ulong end, nint flush, NativeWalkResult* result)
    {
        try
        {
            if (Open(table, flush, out var t, out var f) is var s and not Status.Ok)
                return s;
            return Walked(t.UnmapRange(start, end, f), result);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_write_protect")]
    public static int WriteProtect(nint table, ulong start, ulong end, nint flush, NativeWalkResult* result)
    {
        try
        {
            if (Open(table, flush, out var t, out var f) is var s and not Status.Ok)
                return s;
            return Walked(t.WriteProtect(start, end, f), result);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_unprotect")]
    public static int Unprotect(nint table, ulong start, ulong end, nint flush, NativeWalkResult* result)
    {
        try
        {
            if (Open(table, flush, out var t, out var f) is var s and not Status.Ok)
                return s;
            return Walked(t.Unprotect(start, end, f), result);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_harvest")]
    public static int Harvest(nint table, ulong start, ulong end, ulong* bitmap, nuint bitmapWords, uint flags, nint flush, NativeWalkResult* result)
    {
        try
        {
            if (Open(table, flush, out var t, out var f) is var s and not Status.Ok)
                return s;
            if ((flags & ~(HarvestAccessed | HarvestAccumulate | HarvestSplitPartialHuge)) != 0)
                return LastError.Set(Status.InvalidArgument, $"unknown harvest flags 0x{flags & ~(HarvestAccessed | HarvestAccumulate | HarvestSplitPartialHuge):X}");
            if (bitmap == null && bitmapWords != 0)
                return LastError.Set(Status.InvalidArgument, $"bitmap is NULL with {bitmapWords} words");
            if (bitmapWords > int.MaxValue)
                return LastError.Set(Status.InvalidArgument, $"bitmap_words {bitmapWords} is beyond 2^31 - 1");
            var which = (flags & HarvestAccessed) != 0 ? HarvestBit.Accessed : HarvestBit.Dirty;
            var how = ((flags & HarvestAccumulate) != 0 ? HarvestFlags.Accumulate : 0)
                | ((flags & HarvestSplitPartialHuge) != 0 ? HarvestFlags.SplitPartialHuge : 0);
            return Walked(t.Harvest(start, end, new Span<ulong>(bitmap, (int)bitmapWords), f, which, how), result);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_zap")]
    public static int Zap(nint table, ulong start, ulong end, uint flags, nint flush, NativeWalkResult* result)
    {
        try
        {
            if (Open(table, flush, out var t, out var f) is var s and not Status.Ok)
                return s;
            if ((flags & ~(ZapDropMarkers | ZapKeepUffdWp)) != 0)
                return LastError.Set(Status.InvalidArgument, $"unknown zap flags 0x{flags & ~(ZapDropMarkers | ZapKeepUffdWp):X}");
            var p = new ZapParams((flags & ZapDropMarkers) != 0, (flags & ZapKeepUffdWp) != 0);
            return Walked(t.Zap(start, end, p, f), result);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_change_protection")]
    public static int ChangeProtection(nint table, ulong start, ulong end, NativeProtection* protection, nint flush, NativeWalkResult* result)
    {
        try
        {
            if (Open(table, flush, out var t, out var f) is var s and not Status.Ok)
                return s;
            if (protection == null)
                return LastError.Set(Status.InvalidArgument, "protection is NULL: pass the new protection and cp flags");
            const uint KnownCp = (uint)(ChangeProtectionFlags.TryChangeWritable | ChangeProtectionFlags.UffdWp | ChangeProtectionFlags.UffdWpResolve);
            const uint Known = NativeProtection.VmaWritable | NativeProtection.VmaShared | NativeProtection.VmaUffdWp | NativeProtection.UseMarkers | NativeProtection.SplitHuge;
            if ((protection->CpFlags & ~KnownCp) != 0 || (protection->Flags & ~Known) != 0)
                return LastError.Set(Status.InvalidArgument, $"unknown cp flags 0x{protection->CpFlags & ~KnownCp:X} or flags 0x{protection->Flags & ~Known:X}");
            uint fl = protection->Flags;
            var p = new ChangeProtectionParams(protection->NewProt, (ChangeProtectionFlags)protection->CpFlags,
                useMarkers: (fl & NativeProtection.UseMarkers) != 0, vmaWritable: (fl & NativeProtection.VmaWritable) != 0,
                vmaShared: (fl & NativeProtection.VmaShared) != 0, vmaUffdWp: (fl & NativeProtection.VmaUffdWp) != 0);
            return Walked(t.ChangeProtection(start, end, p, f, splitHuge: (fl & NativeProtection.SplitHuge) != 0), result);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_scan")]
    public static int Scan(nint table, ulong start, ulong end, NativeScanRequest* request, PageRegion* regions, nuint capacity, nint flush, NativeScanResult* result)
    {
        try
        {
            if (Open(table, flush, out var t, out var f) is var s and not Status.Ok)
                return s;
            if (request == null)
                return LastError.Set(Status.InvalidArgument, "request is NULL: pass a fastpt_scan_request (zeroed: every page, all categories)");
            if ((request->Flags & ~NativeScanRequest.WriteProtect) != 0 || request->Reserved != 0)
                return LastError.Set(Status.InvalidArgument, $"fastpt_scan_request has unknown flags 0x{request->Flags & ~NativeScanRequest.WriteProtect:X} or a non-zero reserved field");
            if (regions == null && capacity != 0)
                return LastError.Set(Status.InvalidArgument, $"regions is NULL with capacity {capacity}");
            if (capacity > int.MaxValue)
                return LastError.Set(Status.InvalidArgument, $"capacity {capacity} is beyond 2^31 - 1");
            // A zeroed request returns every category, as PAGEMAP_SCAN's return_mask 0 would return none.
            var req = new PagemapScanRequest((PageCategories)request->Mask, (PageCategories)request->AnyOf, (PageCategories)request->Inverted,
                request->ReturnMask == 0 ? PageCategories.All : (PageCategories)request->ReturnMask, request->MaxPages,
                (request->Flags & NativeScanRequest.WriteProtect) != 0);
            var r = t.Scan(start, end, req, new Span<PageRegion>(regions, (int)capacity), f);
            if (result != null)
                *result = new NativeScanResult { Status = (int)r.Status, RegionCount = r.RegionCount, PagesFound = r.PagesFound, WalkEnd = r.WalkEnd };
            return r.Status == WalkStatus.OutOfTables
                ? LastError.Set(Status.OutOfTables, $"the scan ran out of page tables at 0x{r.WalkEnd:X}; everything before it was done: free tables and resume there")
                : Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_translate")]
    public static int Translate(nint table, ulong va, uint access, NativeCpuMode* cpu, uint flags, NativeTranslation* result)
    {
        try
        {
            if (Handles.Get<PageTable>(table, "table", out var t) is var s and not Status.Ok)
                return s;
            if (result == null)
                return LastError.Set(Status.InvalidArgument, "result is NULL: pass a fastpt_translation to fill");
            if (access > 2)
                return LastError.Set(Status.InvalidArgument, $"access is FASTPT_ACCESS_READ, _WRITE or _EXECUTE (0..2), not {access}");
            if ((flags & ~TranslateNoAccessedDirty) != 0)
                return LastError.Set(Status.InvalidArgument, $"unknown translate flags 0x{flags & ~TranslateNoAccessedDirty:X}");
            var mode = CpuMode.UserMode;
            if (cpu != null)
            {
                if ((cpu->Flags & ~NativeCpuMode.All) != 0 || cpu->Reserved != 0 || cpu->MaxPhysicalAddressBits > 52)
                    return LastError.Set(Status.InvalidArgument, $"fastpt_cpu_mode has unknown flags 0x{cpu->Flags & ~NativeCpuMode.All:X}, a non-zero reserved field or max_physical_bits {cpu->MaxPhysicalAddressBits} above 52");
                uint c = cpu->Flags;
                mode = new CpuMode((c & NativeCpuMode.User) != 0, (c & NativeCpuMode.WriteProtect) != 0, (c & NativeCpuMode.Nxe) != 0,
                    (c & NativeCpuMode.Smep) != 0, (c & NativeCpuMode.Smap) != 0, (c & NativeCpuMode.AlignmentCheck) != 0,
                    (c & NativeCpuMode.ProtectionKeys) != 0, cpu->Pkru, cpu->MaxPhysicalAddressBits == 0 ? 52 : (int)cpu->MaxPhysicalAddressBits,
                    (c & NativeCpuMode.NonLeafBit8Reserved) != 0);
            }
            var r = t.Translate(va, (AccessType)access, mode, (flags & TranslateNoAccessedDirty) == 0);
            *result = new NativeTranslation
            {
                Physical = r.PhysicalAddress,
                PageSize = r.Success ? r.Size.Bytes() : 0,
                ErrorCode = (uint)r.ErrorCode,
                FaultLevel = r.FaultLevel,
                Success = r.Success ? 1 : 0,
                OutsideGuestMemory = r.OutsideGuestMemory ? 1 : 0,
            };
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    /// <summary>The table and flush plan a walk verb needs.</summary>
    private static int Open(nint table, nint flush, out PageTable t, out FlushPlan f)
    {
        f = null!;
        if (Handles.Get(table, "table", out t) is var s and not Status.Ok)
            return s;
        if (flush == 0)
            return LastError.Set(Status.InvalidHandle, "flush is NULL: every verb that can change a present entry needs a fastpt_flush to report the TLB invalidations it owes");
        return Handles.Get(flush, "flush", out f);
    }

    /// <summary>
    /// A walk's result for C: OK, or (with the result filled) OUT_OF_TABLES when it stopped for
    /// lack of tables, CORRUPT_TABLES when a link led outside guest memory.
    /// </summary>
    private static int Walked(in WalkResult r, NativeWalkResult* result)
    {
        if (result != null)
            *result = NativeWalkResult.From(r);
        return r.Status switch
        {
            WalkStatus.OutOfTables => LastError.Set(Status.OutOfTables,
                $"the walk ran out of page tables at 0x{r.WalkEnd:X}; everything before it was done and is in the flush plan: free tables and resume there"),
            WalkStatus.OutsideGuestMemory => LastError.Set(Status.CorruptTables,
                $"the walk stopped at 0x{r.WalkEnd:X}: an entry links to a table outside guest memory; everything before it was done and is in the flush plan"),
            _ => Status.Ok,
        };
    }
}
