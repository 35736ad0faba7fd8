using FastPT.Operations;

namespace FastPT;

public sealed partial class PageTable
{
    /// <summary>
    /// A KVM-format dirty log over this table (<see cref="PageTableDirtyLog"/>): per slot a bitmap
    /// of 64-bit words, harvested with Get and re-armed with Clear, learning of writes from D bits
    /// (<see cref="DirtyLogMode.DirtyBit"/>) or from write-protect faults
    /// (<see cref="DirtyLogMode.WriteProtect"/>). It walks as the table's options say
    /// (<see cref="PageTableOptions.SharedTables"/> beside running vCPUs), with no page budget.
    /// Close the log before the table: a log whose table is disposed refuses every call.
    /// </summary>
    /// <exception cref="PageTableException">An unknown mode or granularity.</exception>
    public PageTableDirtyLog CreateDirtyLog(DirtyLogMode mode = DirtyLogMode.DirtyBit, DirtyLogGranularity granularity = DirtyLogGranularity.Leaf)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Enum.IsDefined(mode))
            throw new PageTableException(PageTableError.InvalidArgument, $"mode is DirtyLogMode.DirtyBit (0) or DirtyLogMode.WriteProtect (1), not {(int)mode}");
        if (!Enum.IsDefined(granularity))
            throw new PageTableException(PageTableError.InvalidArgument, $"granularity is DirtyLogGranularity.Leaf (0) or DirtyLogGranularity.Page4K (1), not {(int)granularity}");
        return new PageTableDirtyLog(this, new DirtyLog(_space, _walk with { BudgetPages = 0 }, granularity, mode));
    }

    /// <summary>Whether <see cref="Dispose"/> ran (a dirty log checks its table on every call).</summary>
    internal bool IsDisposed => _disposed;
}
