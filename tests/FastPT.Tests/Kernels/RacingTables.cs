using System.Collections.Concurrent;
using FastPT.Entries;
using FastPT.Kernels;

namespace FastPT.Tests.Kernels;

/// <summary>
/// A test write mode for shared tables that loses every race on purpose. Right before each
/// atomic commit a "walker" writes to the page: A, and D if the entry is writable, on a present
/// entry (what a CPU sets on a write access). So every compare-exchange a kernel makes on such
/// an entry fails once and its retry branch runs, deterministically, and a kernel that drops
/// what the walker set shows it in the entry. Every commit that goes through the mode is
/// recorded by slot, so a kernel that bypasses the mode with a plain store (which the race
/// cannot reach) is caught as well: a changed slot without a recorded commit.
/// </summary>
internal readonly unsafe struct RacingTables : ITableWriteMode
{
    private static readonly ConcurrentDictionary<nint, ulong> Commits = new();
    private static long _races;

    public static bool Shared => true;

    /// <summary>Walker writes that changed an entry so far (all threads, all tests).</summary>
    public static long Races => Interlocked.Read(ref _races);

    /// <summary>What a CPU's write access sets in a leaf: A, and D when the entry allows writes; nothing on a non-present one.</summary>
    public static ulong WalkerWrite(ulong e) =>
        (e & Pte.Present) == 0 ? e : e | Pte.Accessed | ((e & Pte.Writable) != 0 ? Pte.Dirty : 0);

    public static ulong CompareExchange(ulong* slot, ulong value, ulong comparand)
    {
        Race(slot);
        ulong now = Interlocked.CompareExchange(ref *slot, value, comparand);
        if (now == comparand)
            Commits[(nint)slot] = value;
        return now;
    }

    public static ulong And(ulong* slot, ulong mask)
    {
        Race(slot);
        ulong was = Interlocked.And(ref *slot, mask);
        Commits[(nint)slot] = was & mask;
        return was;
    }

    private static void Race(ulong* slot)
    {
        ulong e = Volatile.Read(ref *slot);
        ulong w = WalkerWrite(e);
        if (w != e && Interlocked.CompareExchange(ref *slot, w, e) == e)
            Interlocked.Increment(ref _races);
    }

    /// <summary>Forgets the commits recorded for these slots (call before a run: memory is reused across tests).</summary>
    public static void Forget(ulong* slots, int count)
    {
        for (int i = 0; i < count; i++)
            Commits.TryRemove((nint)(slots + i), out _);
    }

    /// <summary>The last value committed to a slot through the mode, if any.</summary>
    public static bool TryGetCommit(ulong* slot, out ulong value) => Commits.TryGetValue((nint)slot, out value);

    /// <summary>
    /// Fails unless every slot that changed was last written through the mode with the value it
    /// now holds (or was changed by the racing walker alone, when the kernel's retry found nothing to do).
    /// </summary>
    public static void AssertEveryChangeCommitted(string what, ReadOnlySpan<ulong> before, ulong* slots)
    {
        for (int i = 0; i < before.Length; i++)
        {
            ulong now = slots[i];
            if (now == before[i] || (now == WalkerWrite(before[i]) && !TryGetCommit(slots + i, out _)))
                continue;
            if (!TryGetCommit(slots + i, out ulong committed))
                Xunit.Assert.Fail($"{what}: slot {i} went 0x{before[i]:X} -> 0x{now:X} without a commit through the write mode (a plain store in shared mode?)");
            if (committed != now)
                Xunit.Assert.Fail($"{what}: slot {i} holds 0x{now:X} but its last commit through the write mode was 0x{committed:X} (a plain store after it?)");
        }
    }
}
