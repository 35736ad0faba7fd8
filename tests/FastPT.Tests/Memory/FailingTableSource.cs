using FastPT.Memory;

namespace FastPT.Tests.Memory;

/// <summary>
/// Test helper: a table source that refuses its Nth allocation (counting from 1, from the
/// moment <see cref="FailOn"/> is set), delegating everything else to an inner source.
/// </summary>
internal sealed unsafe class FailingTableSource(ITableSource inner) : ITableSource
{
    private long _calls;
    private long _failOn;

    /// <summary>Fail the Nth allocation from now on (0 = never fail).</summary>
    public long FailOn
    {
        get => _failOn;
        set
        {
            _failOn = value;
            _calls = 0;
        }
    }

    public long Allocations { get; private set; }
    public long Frees { get; private set; }
    public bool Failed { get; private set; }

    public long TablesInUse => inner.TablesInUse;

    public bool TryAllocate(out ulong physical)
    {
        _calls++;
        if (_failOn != 0 && _calls == _failOn)
        {
            Failed = true;
            physical = 0;
            return false;
        }
        Allocations++;
        return inner.TryAllocate(out physical);
    }

    public ulong* Table(ulong physical) => inner.Table(physical);

    public bool ContainsTable(ulong physical) => inner.ContainsTable(physical);

    public void Free(ulong physical)
    {
        Frees++;
        inner.Free(physical);
    }
}
