using System.Runtime.InteropServices;
using FastPT.Operations;

namespace FastPT.Native.Exports;

/// <summary>KVM-format dirty logs (fastpt_dirty_log_*) over a table: slots, get, clear, the write-fault path.</summary>
internal static unsafe class DirtyLogExports
{
    public const uint ModeDirtyBit = 0, ModeWriteProtect = 1;
    public const uint FlagPage4K = 1;

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_create")]
    public static int Create(nint table, uint mode, uint flags, nint* log)
    {
        try
        {
            if (log == null)
                return LastError.Set(Status.InvalidArgument, "log is NULL: pass where to store the new handle");
            *log = 0;
            if (Handles.Get<PageTable>(table, "table", out var t) is var s and not Status.Ok)
                return s;
            if (mode > ModeWriteProtect)
                return LastError.Set(Status.InvalidArgument, $"mode is FASTPT_DIRTY_LOG_DIRTY_BIT (0) or FASTPT_DIRTY_LOG_WRITE_PROTECT (1), not {mode}");
            if ((flags & ~FlagPage4K) != 0)
                return LastError.Set(Status.InvalidArgument, $"unknown dirty-log flags 0x{flags & ~FlagPage4K:X}: only FASTPT_DIRTY_LOG_PAGE_4K (1)");
            var l = t.CreateDirtyLog((DirtyLogMode)mode, (flags & FlagPage4K) != 0 ? DirtyLogGranularity.Page4K : DirtyLogGranularity.Leaf);
            *log = Handles.Add(l);
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_close")]
    public static int Close(nint log)
    {
        try
        {
            return Handles.Remove<PageTableDirtyLog>(log, "log", out _);
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_add_slot")]
    public static int AddSlot(nint log, uint slot, ulong start, ulong size, nint flush)
    {
        try
        {
            if (Open(log, flush, out var l, out var f) is var s and not Status.Ok)
                return s;
            if (slot > int.MaxValue)
                return LastError.Set(Status.InvalidArgument, $"slot {slot} is above {int.MaxValue}");
            l.AddSlot((int)slot, start, size, f);
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_remove_slot")]
    public static int RemoveSlot(nint log, uint slot, nint flush)
    {
        try
        {
            if (Open(log, flush, out var l, out var f) is var s and not Status.Ok)
                return s;
            l.RemoveSlot(Slot(slot), f);
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_pages")]
    public static int Pages(nint log, uint slot, ulong* pages)
    {
        try
        {
            if (Handles.Get<PageTableDirtyLog>(log, "log", out var l) is var s and not Status.Ok)
                return s;
            if (pages == null)
                return LastError.Set(Status.InvalidArgument, "pages is NULL: pass where to store the slot's page count");
            *pages = l.Pages(Slot(slot));
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_get")]
    public static int Get(nint log, uint slot, ulong* bitmap, nuint bitmapWords, nint flush)
    {
        try
        {
            if (Open(log, flush, out var l, out var f) is var s and not Status.Ok)
                return s;
            if (bitmap == null && bitmapWords != 0)
                return LastError.Set(Status.InvalidArgument, $"bitmap is NULL but bitmap_words is {bitmapWords}");
            if (bitmapWords > int.MaxValue)
                return LastError.Set(Status.InvalidArgument, $"bitmap_words {bitmapWords} is above {int.MaxValue}");
            l.Get(Slot(slot), new Span<ulong>(bitmap, (int)bitmapWords), f);
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_clear")]
    public static int Clear(nint log, uint slot, ulong firstPage, ulong* mask, nuint maskWords, nint flush, ulong* cleared)
    {
        try
        {
            if (Open(log, flush, out var l, out var f) is var s and not Status.Ok)
                return s;
            if (mask == null && maskWords != 0)
                return LastError.Set(Status.InvalidArgument, $"mask is NULL but mask_words is {maskWords}");
            if (maskWords > int.MaxValue)
                return LastError.Set(Status.InvalidArgument, $"mask_words {maskWords} is above {int.MaxValue}");
            long n = l.Clear(Slot(slot), firstPage, new ReadOnlySpan<ulong>(mask, (int)maskWords), f);
            if (cleared != null)
                *cleared = (ulong)n;
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_dirty_log_write_fault")]
    public static int WriteFault(nint log, ulong address, nint flush, uint* outcome)
    {
        try
        {
            if (outcome == null)
                return LastError.Set(Status.InvalidArgument, "outcome is NULL: pass where to store FASTPT_FAULT_*");
            if (Open(log, flush, out var l, out var f) is var s and not Status.Ok)
                return s;
            *outcome = (uint)l.HandleWriteFault(address, f);
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    private static int Open(nint log, nint flush, out PageTableDirtyLog l, out FlushPlan f)
    {
        f = null!;
        if (Handles.Get(log, "log", out l) is var s and not Status.Ok)
            return s;
        return Handles.Get(flush, "flush", out f);
    }

    /// <summary>Slot ids above int.MaxValue name no slot (AddSlot refuses them), so they map to -1, which none has.</summary>
    private static int Slot(uint slot) => slot > int.MaxValue ? -1 : (int)slot;

    /// <summary>A log whose table was closed is an invalid handle; the rest as every export.</summary>
    private static int Fail(Exception e) => e is ObjectDisposedException
        ? LastError.Set(Status.InvalidHandle, "the log's table was closed: close the log (fastpt_dirty_log_close) before its table")
        : Status.From(e);
}
