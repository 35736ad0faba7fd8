using FastPT.Entries;
using FastPT.Memory;
using FastPT.Paging;
using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Memory;

/// <summary>
/// The state one operation runs on under failure injection: a failing table source over a
/// native one, the address space (raw, or a <see cref="MemoryModel"/>'s), the flush plan the
/// operation fills, and where a walk that stopped early resumes.
/// </summary>
internal sealed class Injected : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private bool _closed;

    private Injected()
    {
        Native = new NativeTableSource();
        Failing = new FailingTableSource(Native);
    }

    public NativeTableSource Native { get; }
    public FailingTableSource Failing { get; }

    /// <summary>The address spaces under test, in creation order; they all take tables from <see cref="Failing"/>.</summary>
    public List<AddressSpace> Spaces { get; } = [];

    public AddressSpace Space => Spaces[0];
    public MemoryModel? Model { get; private set; }
    public MemoryModel Mm => Model ?? throw new InvalidOperationException("this fixture has no memory model");
    public FlushPlan Flush { get; } = new();

    /// <summary>Where a walk that stopped early (<see cref="WalkStatus.OutOfTables"/>) resumes, if it did.</summary>
    public ulong? ResumeAt { get; set; }

    /// <summary>Anything else an operation keeps between its failed attempt and its retry.</summary>
    public object? State { get; set; }

    public static Injected Raw(int levels = 4)
    {
        var f = new Injected();
        f.Own(new AddressSpace(f.Failing, levels), s => s);
        return f;
    }

    public static Injected ForModel(UffdFeatures features = UffdFeatures.None)
    {
        var f = new Injected();
        f.Model = f.Own(new MemoryModel(features, f.Failing), m => m.Space);
        return f;
    }

    /// <summary>An empty fixture: the operation creates its spaces (see <see cref="Own"/>).</summary>
    public static Injected Empty() => new();

    /// <summary>Keeps something that holds an address space, to verify and dispose with the fixture.</summary>
    public T Own<T>(T owner, Func<T, AddressSpace> space) where T : IDisposable
    {
        _owned.Add(owner);
        Spaces.Add(space(owner));
        return owner;
    }

    /// <summary>Runs a walk verb over [start, end) or, after one stopped early, over what it left.</summary>
    public bool Walk(ulong start, ulong end, Func<ulong, ulong, WalkResult> verb)
    {
        var r = verb(ResumeAt ?? start, end);
        ResumeAt = r.Complete ? null : r.WalkEnd;
        Assert.True(r.Complete || r.Status == WalkStatus.OutOfTables, $"walk stopped with {r.Status}");
        return r.Complete;
    }

    /// <summary>Disposes the spaces (or models) and returns how many tables they did not give back.</summary>
    public long Close()
    {
        if (_closed)
            return 0;
        _closed = true;
        foreach (var o in _owned)
            o.Dispose();
        long left = Native.TablesInUse;
        Native.Dispose();
        return left;
    }

    public void Dispose() => Close();
}

/// <summary>
/// One public operation under failure injection: <paramref name="Arrange"/> builds its starting
/// state (allocations there never fail); <paramref name="Act"/> runs it and returns true when it
/// completed, false when it stopped early with a resume point, or throws. Operations that promise
/// to change nothing when they fail (<see cref="AddressSpace.Map"/>, <see cref="AddressSpace.Split"/>)
/// say so with <paramref name="NothingChangesOnFailure"/>. New verbs plug in as one more of these.
/// </summary>
internal sealed record InjectedOp(string Name, Func<Injected> Arrange, Func<Injected, bool> Act, bool NothingChangesOnFailure = false)
{
    public override string ToString() => Name;
}

/// <summary>
/// Runs an operation once per allocation it makes, failing that allocation: after each failure
/// the tables must pass <see cref="AddressSpace.Verify"/> (every table reachable once, links
/// valid, entries valid for their level, no table leaked or freed while linked); an operation
/// that promises so must have changed nothing; and running it again without failures (resuming
/// a walk where it stopped) must reach exactly the state and flushes of a run that never failed.
/// </summary>
internal static class FailureInjection
{
    /// <summary>Returns how many allocation points were tried.</summary>
    public static int Run(InjectedOp op)
    {
        List<(ulong, int, ulong)> reference;
        List<FlushRange> referenceFlush;
        long allocations;
        using (var f = op.Arrange())
        {
            long before = f.Failing.Allocations;
            Assert.True(op.Act(f), $"{op.Name}: does not complete even without failures");
            allocations = f.Failing.Allocations - before;
            reference = Logical(f);
            referenceFlush = Normalize(f.Flush);
            Verify(f, $"{op.Name} (no failure)");
            Assert.Equal(0, f.Close());
        }
        for (int n = 1; ; n++)
        {
            using var f = op.Arrange();
            var before = Logical(f);
            long inUse = f.Native.TablesInUse;
            f.Failing.FailOn = n;
            bool complete = false;
            Exception? error = null;
            try
            {
                complete = op.Act(f);
            }
            catch (Exception e) when (AllocationFailure(e) is not null)
            {
                error = e;
            }
            f.Failing.FailOn = 0;
            string what = $"{op.Name}, allocation {n} of {allocations} refused";
            Verify(f, what);
            if (!f.Failing.Failed)
            {
                Assert.True(n == allocations + 1, $"{op.Name}: {allocations} allocations without failures, but attempt {n} made fewer");
                Assert.True(complete, $"{what}: did not complete");
                AssertSameState(reference, Logical(f), what);
                Assert.True(f.Close() == 0, $"{what}: disposing the space left tables in use");
                return n - 1;
            }
            if (error != null)
            {
                var tae = AllocationFailure(error)!;
                Assert.False(string.IsNullOrWhiteSpace(tae.Message));
                if (op.NothingChangesOnFailure)
                {
                    Assert.True(inUse == f.Native.TablesInUse, $"{what}: {f.Native.TablesInUse - inUse} tables held after a failure that promises no change");
                    AssertSameState(before, Logical(f), $"{what} (must change nothing)");
                }
            }
            // Again without failures: the same end state and the same flushes as a run that never failed.
            if (!complete)
                Assert.True(op.Act(f), $"{what}: the retry did not complete");
            Verify(f, $"{what}, then retried");
            AssertSameState(reference, Logical(f), $"{what}, then retried");
            Assert.True(referenceFlush.SequenceEqual(Normalize(f.Flush)),
                $"{what}, then retried: flushes {string.Join(' ', Normalize(f.Flush))} but a run without failures flushes {string.Join(' ', referenceFlush)}");
            Assert.True(f.Close() == 0, $"{what}, then retried: disposing the space left tables in use");
        }
    }

    public static TableAllocationException? AllocationFailure(Exception? e)
    {
        for (; e != null; e = e.InnerException)
            if (e is TableAllocationException t)
                return t;
        return null;
    }

    private static void Verify(Injected f, string what)
    {
        bool shared = f.Spaces.Count > 1;
        long reachable = 0;
        foreach (var space in f.Spaces)
        {
            var v = space.Verify(sourceIsShared: shared);
            Assert.True(v.IsValid, $"{what}: {v}");
            reachable += v.TablesReachable;
        }
        Assert.True(reachable == f.Failing.TablesInUse, $"{what}: {reachable} tables reachable from {f.Spaces.Count} spaces, {f.Failing.TablesInUse} in use");
    }

    /// <summary>
    /// The tables as an embedder sees them, independent of where tables were placed: every
    /// non-empty entry by (va, level), with table links reduced to their flags.
    /// </summary>
    public static unsafe List<(ulong Va, int Level, ulong Value)> Logical(Injected f)
    {
        var list = new List<(ulong, int, ulong)>();
        for (int i = 0; i < f.Spaces.Count; i++)
        {
            list.Add((0, 100 + i, 0)); // a separator, so each entry is compared within its own space
            Visit(f.Spaces[i], f.Spaces[i].RootTable, f.Spaces[i].Levels, 0, list);
        }
        return list;
    }

    private static unsafe void Visit(AddressSpace s, ulong* table, int level, ulong va, List<(ulong, int, ulong)> list)
    {
        for (int i = 0; i < 512; i++)
        {
            ulong e = table[i];
            if (e == 0)
                continue;
            ulong at = va | ((ulong)i << AddressSpace.Shift(level));
            if (level > 1 && (e & Pte.Present) != 0 && !AddressSpace.IsLeaf(e, level))
            {
                list.Add((at, level, e & ~Pte.PfnMask));
                Visit(s, s.Table(e & Pte.PfnMask), level - 1, at, list);
            }
            else
            {
                list.Add((at, level, e));
            }
        }
    }

    private static void AssertSameState(List<(ulong Va, int Level, ulong Value)> expected, List<(ulong Va, int Level, ulong Value)> actual, string what)
    {
        int n = Math.Min(expected.Count, actual.Count);
        for (int i = 0; i < n; i++)
            if (expected[i] != actual[i])
                Assert.Fail($"{what}: entry {i} differs: expected level-{expected[i].Level} 0x{expected[i].Va:X} = 0x{expected[i].Value:X}, got level-{actual[i].Level} 0x{actual[i].Va:X} = 0x{actual[i].Value:X}");
        Assert.True(expected.Count == actual.Count, $"{what}: {actual.Count} entries, expected {expected.Count}");
    }

    /// <summary>Flush ranges as a sorted union, so a plan filled in two parts compares with one filled at once.</summary>
    private static List<FlushRange> Normalize(FlushPlan plan)
    {
        var sorted = plan.Ranges.ToArray().OrderBy(r => r.Start).ToList();
        var merged = new List<FlushRange>();
        foreach (var r in sorted)
        {
            if (merged.Count > 0 && merged[^1].End >= r.Start)
                merged[^1] = merged[^1] with { End = Math.Max(merged[^1].End, r.End) };
            else
                merged.Add(r);
        }
        return merged;
    }
}
