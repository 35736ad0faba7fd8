using System.Runtime.InteropServices;

namespace FastPT.Native.Exports;

/// <summary>Creating, describing and closing tables (fastpt_table_*).</summary>
internal static unsafe class TableExports
{
    [UnmanagedCallersOnly(EntryPoint = "fastpt_table_create")]
    public static int Create(NativeOptions* options, nint* table) =>
        Create(options, table, null, static o => new PageTable(o));

    [UnmanagedCallersOnly(EntryPoint = "fastpt_table_create_in_guest_memory")]
    public static int CreateInGuestMemory(void* host, ulong guestPhysicalBase, ulong length, NativeOptions* options, nint* table)
    {
        nint memory = (nint)host;
        return Create(options, table, null, o => PageTable.InGuestMemory(memory, guestPhysicalBase, length, o));
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_table_create_with_allocator")]
    public static int CreateWithAllocator(NativeAllocator* allocator, NativeOptions* options, nint* table)
    {
        bool complete = allocator != null && allocator->Allocate != null && allocator->Release != null && allocator->Address != null;
        var callbacks = complete ? *allocator : default;
        return Create(options, table, complete ? null : "allocator is NULL or lacks a callback: allocate, release and address are all required",
            o => new PageTable(new CallbackTableSource(callbacks), o));
    }

    /// <summary>
    /// What every create entry point does around making its table: clears the handle (or
    /// refuses a NULL one), refuses what the entry point found wrong, reads the options, and
    /// stores the new table's handle.
    /// </summary>
    private static int Create(NativeOptions* options, nint* table, string? refusal, Func<PageTableOptions, PageTable> make)
    {
        try
        {
            if (table == null)
                return LastError.Set(Status.InvalidArgument, "table is NULL: pass where to store the new handle");
            *table = 0;
            if (refusal != null)
                return LastError.Set(Status.InvalidArgument, refusal);
            if (Options(options, out var o) is var s and not Status.Ok)
                return s;
            *table = Handles.Add(make(o));
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_table_close")]
    public static int Close(nint table)
    {
        try
        {
            if (Handles.Remove<PageTable>(table, "table", out var t) is var s and not Status.Ok)
                return s;
            t.Dispose();
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_table_get_info")]
    public static int Info(nint table, NativeTableInfo* info)
    {
        try
        {
            if (Handles.Get<PageTable>(table, "table", out var t) is var s and not Status.Ok)
                return s;
            if (info == null)
                return LastError.Set(Status.InvalidArgument, "info is NULL: pass a fastpt_table_info to fill");
            *info = new NativeTableInfo { Root = t.Root, TablesInUse = t.TablesInUse, Levels = (uint)t.Levels };
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "fastpt_table_verify")]
    public static int Verify(nint table)
    {
        try
        {
            if (Handles.Get<PageTable>(table, "table", out var t) is var s and not Status.Ok)
                return s;
            var v = t.Verify();
            return v.IsValid ? Status.Ok : LastError.Set(Status.CorruptTables, v.ToString());
        }
        catch (Exception e)
        {
            return Status.From(e);
        }
    }

    /// <summary>fastpt_options (NULL = the defaults) as PageTableOptions.</summary>
    private static int Options(NativeOptions* options, out PageTableOptions result)
    {
        result = new PageTableOptions();
        if (options == null)
            return Status.Ok;
        if ((options->Flags & ~NativeOptions.SharedTables) != 0 || options->Reserved != 0)
            return LastError.Set(Status.InvalidArgument, $"fastpt_options has unknown flags 0x{options->Flags & ~NativeOptions.SharedTables:X} or a non-zero reserved field: zero-initialise the struct");
        result = new PageTableOptions
        {
            Levels = options->Levels == 0 ? 4 : (int)Math.Min(options->Levels, int.MaxValue),
            SharedTables = (options->Flags & NativeOptions.SharedTables) != 0,
            Parallelism = options->Parallelism,
            BudgetPages = options->BudgetPages,
            MaxTables = options->MaxTables,
        };
        return Status.Ok;
    }
}
