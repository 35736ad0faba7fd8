namespace FastPT.Native;

/// <summary>
/// Tables from a C caller's allocator (fastpt_allocator): allocate hands out a physical address,
/// address maps it to the table's host memory, release takes it back. Tables are zeroed here,
/// so the allocator need not. The callbacks run on the thread of the fastpt call that needs them.
/// </summary>
internal sealed unsafe class CallbackTableSource(NativeAllocator allocator) : ITableSource
{
    private long _inUse;

    public long TablesInUse => _inUse;

    public bool TryAllocate(out ulong physical)
    {
        ulong pa = 0;
        if (allocator.Allocate(allocator.Context, &pa) != 0)
        {
            physical = 0;
            return false;
        }
        if ((pa & 4095) != 0 || (pa >> 52) != 0)
        {
            allocator.Release(allocator.Context, pa);
            throw new PageTableException(PageTableError.Misaligned,
                $"the allocator returned table address 0x{pa:X}: tables must be 4 KiB-aligned and below 2^52");
        }
        new Span<ulong>(Table(pa), 512).Clear();
        physical = pa;
        _inUse++;
        return true;
    }

    public ulong* Table(ulong physical)
    {
        void* p = allocator.Address(allocator.Context, physical);
        if (p == null || ((nuint)p & 4095) != 0)
            throw new ArgumentOutOfRangeException(nameof(physical),
                $"the allocator's address callback gave {(p == null ? "NULL" : $"the misaligned 0x{(nuint)p:X}")} for table 0x{physical:X}: an entry links to memory the allocator does not own, or the callback is wrong");
        return (ulong*)p;
    }

    public void Free(ulong physical)
    {
        allocator.Release(allocator.Context, physical);
        _inUse--;
    }
}
