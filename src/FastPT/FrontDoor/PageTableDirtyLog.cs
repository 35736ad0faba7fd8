using FastPT.Operations;

namespace FastPT;

/// <summary>
/// The front door's <see cref="DirtyLog"/> (made by <see cref="PageTable.CreateDirtyLog"/>): the
/// same contract (KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG with manual protect), with bad input
/// refused as a <see cref="PageTableException"/> whose <see cref="PageTableError"/> is the C ABI's
/// status, and every call refused once its table is disposed. Get, Clear, AddSlot and RemoveSlot:
/// one thread at a time; <see cref="HandleWriteFault"/>: any number of vCPU threads beside them.
/// </summary>
/// <example>
/// <code>
/// using var ept = new PageTable(new PageTableOptions { SharedTables = true });
/// var log = ept.CreateDirtyLog(DirtyLogMode.WriteProtect);
/// log.AddSlot(0, 0, 1UL &lt;&lt; 30, flush);          // write-protects the slot
/// // vCPU thread, on a write-protection exit at gpa:
/// if (log.HandleWriteFault(gpa, vcpuFlush) == DirtyLogFault.Resolved) { /* invalidate vcpuFlush, resume */ }
/// // migration thread:
/// log.Get(0, bitmap, flush); log.Clear(0, 0, bitmap, flush); // then copy the pages bitmap names
/// </code>
/// </example>
public sealed class PageTableDirtyLog
{
    private readonly PageTable _table;
    private readonly DirtyLog _log;

    internal PageTableDirtyLog(PageTable table, DirtyLog log)
    {
        _table = table;
        _log = log;
    }

    /// <summary>How the log learns of writes.</summary>
    public DirtyLogMode Mode => _log.Mode;

    /// <summary>Starts logging [start, start + size) as slot <paramref name="id"/> (<see cref="DirtyLog.AddSlot"/>).</summary>
    /// <exception cref="PageTableException">A negative id, a range that is misaligned, empty, wraps or is not canonical, a slot id in use or an overlap (nothing changes); no table for a split (OutOfTables, nothing is logged).</exception>
    public void AddSlot(int id, ulong start, ulong size, FlushPlan flush)
    {
        Check(flush);
        if (id < 0)
            throw new PageTableException(PageTableError.InvalidArgument, $"slot id {id} is negative: ids are 0 or more");
        if (start + size < start)
            throw new PageTableException(PageTableError.InvalidRange, $"slot {id}: 0x{start:X} + 0x{size:X} wraps around the address space");
        _table.CheckRange(start, start + size);
        Run(() => _log.AddSlot(id, start, size, flush));
    }

    /// <summary>Stops logging slot <paramref name="id"/>; a write-protect log gives its pages write access back (<see cref="DirtyLog.RemoveSlot(int, FlushPlan)"/>).</summary>
    public void RemoveSlot(int id, FlushPlan flush)
    {
        Check(flush);
        Run(() => _log.RemoveSlot(id, flush));
    }

    /// <summary>The pages of slot <paramref name="id"/>: its bitmaps need (pages + 63) / 64 words.</summary>
    public ulong Pages(int id)
    {
        Check(null, needsFlush: false);
        try
        {
            return _log.Pages(id);
        }
        catch (Exception e) when (PageTable.IsEngineError(e))
        {
            throw PageTable.Typed(e);
        }
    }

    /// <summary>KVM_GET_DIRTY_LOG: ORs every page written since its last Clear into <paramref name="bitmap"/> (<see cref="DirtyLog.Get"/>).</summary>
    /// <exception cref="PageTableException">No such slot; a bitmap shorter than the slot's words (BufferTooSmall).</exception>
    public WalkResult Get(int id, Span<ulong> bitmap, FlushPlan flush)
    {
        ulong words = (Pages(id) + 63) / 64;
        Check(flush);
        if ((ulong)bitmap.Length < words)
            throw new PageTableException(PageTableError.BufferTooSmall, $"slot {id} needs a bitmap of {words} words, not {bitmap.Length}");
        try
        {
            return _log.Get(id, bitmap, flush);
        }
        catch (Exception e) when (PageTable.IsEngineError(e))
        {
            throw PageTable.Typed(e);
        }
    }

    /// <summary>KVM_CLEAR_DIRTY_LOG: re-arms the masked pages the log held; returns how many left it (<see cref="DirtyLog.Clear"/>).</summary>
    /// <exception cref="PageTableException">No such slot; firstPage not a multiple of 64 (Misaligned); a mask past the slot's end.</exception>
    public long Clear(int id, ulong firstPage, ReadOnlySpan<ulong> mask, FlushPlan flush)
    {
        Check(flush);
        if ((firstPage & 63) != 0)
            throw new PageTableException(PageTableError.Misaligned, $"slot {id}: first page {firstPage} is not a multiple of 64 (each mask word covers 64 pages from a 64-page boundary)");
        try
        {
            return _log.Clear(id, firstPage, mask, flush);
        }
        catch (Exception e) when (PageTable.IsEngineError(e))
        {
            throw PageTable.Typed(e);
        }
    }

    /// <summary>The write-fault path of a write-protect log (<see cref="DirtyLog.HandleWriteFault"/>); thread-safe.</summary>
    /// <exception cref="PageTableException">The log is a D-bit log (InvalidArgument).</exception>
    public DirtyLogFault HandleWriteFault(ulong address, FlushPlan flush)
    {
        Check(flush);
        try
        {
            return _log.HandleWriteFault(address, flush);
        }
        catch (Exception e) when (PageTable.IsEngineError(e))
        {
            throw PageTable.Typed(e);
        }
    }

    /// <summary>The checks of every call: the table is alive, and a flush plan is given where one is needed.</summary>
    private void Check(FlushPlan? flush, bool needsFlush = true)
    {
        ObjectDisposedException.ThrowIf(_table.IsDisposed, _table);
        if (needsFlush)
            ArgumentNullException.ThrowIfNull(flush);
    }

    private static void Run(Action a)
    {
        try
        {
            a();
        }
        catch (Exception e) when (PageTable.IsEngineError(e))
        {
            throw PageTable.Typed(e);
        }
    }
}
