using System.Runtime.InteropServices;

namespace FastPT.Native.Exports;

/// <summary>Flush plans (fastpt_flush_*): the TLB invalidations a verb owes, read back as ranges.</summary>
internal static unsafe class FlushExports
{
    [UnmanagedCallersOnly(EntryPoint = "fastpt_flush_create")]
    public static int Create(nint* flush)
    {
        try
        {
            if (flush == null)
                return LastError.Set(Status.InvalidArgument, "flush is NULL: pass where to store the new handle");
            *flush = Handles.Add(new FlushPlan());
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_flush_close")]
    public static int Close(nint flush)
    {
        try
        {
            return Handles.Remove<FlushPlan>(flush, "flush", out _);
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_flush_clear")]
    public static int Clear(nint flush)
    {
        try
        {
            if (Handles.Get<FlushPlan>(flush, "flush", out var f) is var s and not Status.Ok)
                return s;
            f.Clear();
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_flush_ranges")]
    public static int Ranges(nint flush, FlushRange* ranges, nuint capacity, nuint* count)
    {
        try
        {
            if (Handles.Get<FlushPlan>(flush, "flush", out var f) is var s and not Status.Ok)
                return s;
            if (count == null)
                return LastError.Set(Status.InvalidArgument, "count is NULL: pass where to store the number of ranges");
            *count = (nuint)f.Count;
            if (ranges == null && capacity != 0)
                return LastError.Set(Status.InvalidArgument, $"ranges is NULL with capacity {capacity}: pass a buffer, or NULL and 0 to ask for the count");
            int n = (int)Math.Min(capacity, (nuint)f.Count);
            f.Ranges[..n].CopyTo(new Span<FlushRange>(ranges, n));
            if (ranges != null && capacity < (nuint)f.Count)
                return LastError.Set(Status.BufferTooSmall, $"the plan holds {f.Count} ranges and the buffer {capacity}: the first {capacity} were copied; pass {f.Count}");
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }
}
