using FastPT.Entries;
using FastPT.Memory;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;

namespace FastPT;

/// <summary>
/// An x86-64 page table (4- or 5-level, hardware format) and the memory its tables live in:
/// the front door of FastPT. Map ranges, write-protect and unprotect them, harvest dirty
/// bits, scan, zap and translate; every verb that can change a present entry adds to a
/// caller's <see cref="FlushPlan"/> the ranges whose old translations a TLB may still hold.
/// </summary>
/// <remarks>
/// <para>Tables live in native memory (<see cref="PageTable(PageTableOptions?)"/>), in a
/// region of a guest's RAM at its guest-physical address (<see cref="InGuestMemory"/>), so
/// <see cref="Root"/> is a CR3 value the guest's CPU can load, or in any
/// <see cref="ITableSource"/>.</para>
/// <para>Ranges are [start, end): 4 KiB-aligned, non-empty, canonical, on one side of the
/// non-canonical hole. Bad input throws <see cref="PageTableException"/> and changes nothing.</para>
/// <para>Thread safety: one call at a time per table, except that <see cref="Translate"/> may
/// run on several threads at once and, when <see cref="PageTableOptions.SharedTables"/> is
/// set, beside <see cref="WriteProtect"/>, <see cref="Unprotect"/>,
/// <see cref="ChangeProtection"/>, <see cref="Harvest"/> and <see cref="Scan"/>.</para>
/// </remarks>
/// <example>
/// <code>
/// using var table = new PageTable();
/// table.MapRange(0x4000_0000, 0x4040_0000, 0x1_0000_0000, PageFlags.Writable | PageFlags.User);
/// var flush = new FlushPlan();
/// table.WriteProtect(0x4000_0000, 0x4040_0000, flush);   // flush.Ranges: invalidate these
/// var t = table.Translate(0x4000_1234, AccessType.Write, CpuMode.UserMode);
/// // t.Success == false: a write-protect fault, t.ErrorCode == Present | Write | User
/// </code>
/// </example>
public sealed partial class PageTable : IDisposable
{
    private readonly ITableSource _tables;
    private readonly IDisposable? _ownedTables;
    private readonly AddressSpace _space;
    private readonly WalkOptions _walk;
    private readonly bool _inGuestMemory; // its own pool in guest RAM, whose links the guest may have rewritten
    private bool _disposed;

    /// <summary>A page table whose tables are 4 KiB blocks of native memory (entries hold their host addresses).</summary>
    /// <param name="options">Levels, table limit and how verbs walk; null for the defaults.</param>
    /// <exception cref="PageTableException">The options are invalid, or the root table cannot be allocated.</exception>
    public PageTable(PageTableOptions? options = null)
        : this(NativeTables(options ??= new PageTableOptions()), options, owned: true)
    {
    }

    /// <summary>A page table whose tables come from <paramref name="tables"/> (the caller keeps and disposes it).</summary>
    /// <param name="tables">Hands out zeroed 4 KiB tables and maps their physical addresses to pointers.</param>
    /// <param name="options">Levels and how verbs walk; null for the defaults. <see cref="PageTableOptions.MaxTables"/> must be 0.</param>
    /// <exception cref="PageTableException">The options are invalid, or the root table cannot be allocated.</exception>
    public PageTable(ITableSource tables, PageTableOptions? options = null)
        : this(tables, options ?? new PageTableOptions(), owned: false)
    {
    }

    private PageTable(ITableSource tables, PageTableOptions options, bool owned, ulong? attachCr3 = null, bool inGuestMemory = false)
    {
        ArgumentNullException.ThrowIfNull(tables);
        if (!owned && options.MaxTables != 0)
            throw new PageTableException(PageTableError.InvalidArgument,
                $"MaxTables ({options.MaxTables}) limits native table memory only; a table source or guest memory sets its own limit. Pass 0.");
        Options = options;
        _walk = CheckOptions(options);
        _tables = tables;
        _ownedTables = owned ? tables as IDisposable : null;
        _inGuestMemory = inGuestMemory;
        try
        {
            _space = attachCr3 is { } cr3 ? AddressSpace.Attach(tables, cr3, options.Levels) : new AddressSpace(tables, options.Levels);
        }
        catch (Exception e) when (IsEngineError(e))
        {
            _ownedTables?.Dispose();
            throw Typed(e);
        }
    }

    /// <summary>
    /// A page table whose tables are carved out of a region of a guest's RAM: entries hold
    /// guest-physical addresses, so <see cref="Root"/> is a CR3 value the guest can load. The
    /// region must stay mapped (and pinned) at <paramref name="hostAddress"/> until the table is
    /// disposed; tables are taken from its start upward and returned to it.
    /// </summary>
    /// <param name="hostAddress">Where the region is mapped in this process, 4 KiB-aligned.</param>
    /// <param name="guestPhysicalBase">The guest-physical address of its first byte, 4 KiB-aligned.</param>
    /// <param name="length">Its length in bytes: room for at least one table; the region must end below 2^52.</param>
    /// <param name="options">Levels and how verbs walk; null for the defaults. <see cref="PageTableOptions.MaxTables"/> must be 0.</param>
    /// <exception cref="PageTableException">The region is misaligned, too small or too high, or the options are invalid.</exception>
    /// <example>
    /// <code>
    /// // 1 MiB of guest RAM at guest-physical 0x10_0000 holds the tables (e.g. a KVM memory slot).
    /// using var table = PageTable.InGuestMemory(ram + 0x10_0000, 0x10_0000, 1 &lt;&lt; 20);
    /// // load table.Root into the vCPU's CR3
    /// </code>
    /// </example>
    public static unsafe PageTable InGuestMemory(nint hostAddress, ulong guestPhysicalBase, ulong length, PageTableOptions? options = null)
    {
        if (hostAddress == 0)
            throw new PageTableException(PageTableError.InvalidArgument, "hostAddress is null: pass where the guest memory for tables is mapped in this process");
        if ((hostAddress & 4095) != 0 || (guestPhysicalBase & 4095) != 0)
            throw new PageTableException(PageTableError.Misaligned,
                $"guest memory for tables must be 4 KiB-aligned: host address 0x{hostAddress:X}, guest-physical base 0x{guestPhysicalBase:X}");
        if (length < 4096)
            throw new PageTableException(PageTableError.InvalidArgument, $"guest memory of {length} bytes has no room for a 4 KiB table");
        if (guestPhysicalBase >= 1UL << 52 || (length & ~4095UL) > (1UL << 52) - guestPhysicalBase)
            throw new PageTableException(PageTableError.InvalidRange,
                $"guest memory 0x{guestPhysicalBase:X} + 0x{length:X} bytes ends above 2^52, where entries cannot link tables; place it lower");
        return new PageTable(new GuestMemoryTableSource((byte*)hostAddress, guestPhysicalBase, length), options ?? new PageTableOptions(), owned: false, inGuestMemory: true);
    }

    /// <summary>
    /// The page table a guest built itself, starting at its <paramref name="cr3"/>: every verb
    /// works on the guest's tables in place, reaching them only through
    /// <paramref name="memory"/>, so a guest's link into a hole stops the walk with a defined
    /// outcome (<see cref="TranslateResult.OutsideGuestMemory"/>, or
    /// <see cref="WalkStatus.OutsideGuestMemory"/> from a range verb) instead of a stray access. The guest's tables
    /// are never freed; tables FastPT must add (a split, a new level) come from the pool
    /// [<paramref name="poolGuestPhysical"/>, + <paramref name="poolSize"/>), and without one
    /// such a verb fails with <see cref="PageTableError.OutOfTables"/>.
    /// </summary>
    /// <param name="memory">The guest's RAM: its regions (memory slots) at their guest-physical addresses.</param>
    /// <param name="cr3">The guest's CR3; bits 12..51 locate the root table.</param>
    /// <param name="poolGuestPhysical">Start of guest RAM FastPT may use for new tables, 4 KiB-aligned.</param>
    /// <param name="poolSize">Bytes in that pool; 0 for none.</param>
    /// <param name="options">Levels (as the guest's CR4.LA57) and how verbs walk; <see cref="PageTableOptions.MaxTables"/> must be 0.</param>
    /// <exception cref="PageTableException">The root or the pool is not in guest RAM, or the options are invalid.</exception>
    public static PageTable Attach(GuestMemoryMap memory, ulong cr3, ulong poolGuestPhysical = 0, ulong poolSize = 0, PageTableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        GuestMemoryTableSource tables;
        try
        {
            tables = new GuestMemoryTableSource(memory, poolGuestPhysical, poolSize);
        }
        catch (ArgumentException e)
        {
            throw new PageTableException(PageTableError.InvalidArgument, e.Message, e);
        }
        return new PageTable(tables, options ?? new PageTableOptions(), owned: false, attachCr3: cr3);
    }

    /// <summary>
    /// Checks the tables' structure (it reads every table: for tests and debug builds): each
    /// table reachable once, every entry valid for its level, no table leaked. Returns every
    /// problem found; <see cref="SpaceVerification.ThrowIfInvalid"/> fails loudly.
    /// </summary>
    public SpaceVerification Verify() => Space.Verify();

    /// <summary>The options the table was made with.</summary>
    public PageTableOptions Options { get; }

    /// <summary>The physical (or guest-physical) address of the top-level table: the value for CR3.</summary>
    public ulong Root => _space.Root;

    /// <summary>Paging levels: 4 or 5.</summary>
    public int Levels => _space.Levels;

    /// <summary>Tables in use, root included.</summary>
    public long TablesInUse => _tables.TablesInUse;

    /// <summary>The engine's address space under this table (tests, benchmarks and the C ABI).</summary>
    internal AddressSpace Space
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _space;
        }
    }

    /// <summary>
    /// Returns every table to the table memory, and frees native table memory. Tables in guest
    /// memory (<see cref="InGuestMemory"/>) are left as they are: the guest may have rewritten
    /// their links, and their pool goes away with this table, so there is nothing to follow or free.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (_inGuestMemory)
            _space?.Abandon();
        else
            _space?.Dispose();
        _ownedTables?.Dispose();
    }

    private static ITableSource NativeTables(PageTableOptions options)
    {
        if (options.MaxTables < 0)
            throw new PageTableException(PageTableError.InvalidArgument, $"MaxTables is 0 (no limit) or a positive table count, not {options.MaxTables}");
        return new NativeTableSource(options.MaxTables);
    }

    private static WalkOptions CheckOptions(PageTableOptions options)
    {
        if (options.Levels is not (4 or 5))
            throw new PageTableException(PageTableError.InvalidArgument, $"Levels is 4 or 5 (x86-64 paging), not {options.Levels}");
        if (options.Parallelism < -1)
            throw new PageTableException(PageTableError.InvalidArgument, $"Parallelism is 0 or 1 (this thread), n > 1 (up to n threads) or -1 (every core), not {options.Parallelism}");
        if (options.BudgetPages < 0)
            throw new PageTableException(PageTableError.InvalidArgument, $"BudgetPages is 0 (no limit) or a positive page count, not {options.BudgetPages}");
        return new WalkOptions { SharedTables = options.SharedTables, Parallelism = options.Parallelism, BudgetPages = options.BudgetPages };
    }
}
