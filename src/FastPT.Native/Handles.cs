namespace FastPT.Native;

/// <summary>
/// The opaque handles C holds: a slot index (low 32 bits, plus one so no handle is 0) and the
/// slot's generation (high 32 bits). A closed handle's slot moves to the next generation, so a
/// freed, stale or made-up handle is found out and refused instead of reaching freed memory,
/// and a handle of one kind (a flush plan) is refused where another (a table) is expected.
/// Lookups read one reference without a lock; adding and closing take the lock.
/// </summary>
internal static class Handles
{
    private sealed record Entry(object Target, uint Generation);

    private static readonly Lock Gate = new();
    private static Entry?[] s_slots = new Entry?[16];
    private static uint[] s_generations = new uint[16];
    private static readonly Stack<int> s_free = new();
    private static int s_used;

    /// <summary>A new handle for <paramref name="target"/>.</summary>
    public static nint Add(object target)
    {
        lock (Gate)
        {
            int slot;
            if (s_free.Count > 0)
                slot = s_free.Pop();
            else
            {
                if (s_used == s_slots.Length)
                {
                    var slots = new Entry?[s_slots.Length * 2];
                    s_slots.CopyTo(slots, 0);
                    Array.Resize(ref s_generations, slots.Length);
                    Volatile.Write(ref s_slots, slots);
                }
                slot = s_used++;
            }
            uint generation = ++s_generations[slot];
            if (generation == 0)
                generation = ++s_generations[slot]; // 0 never names a live handle
            Volatile.Write(ref s_slots[slot], new Entry(target, generation));
            return (nint)(((ulong)generation << 32) | (uint)(slot + 1));
        }
    }

    /// <summary>The live object of type <typeparamref name="T"/> a handle names, or a status with the last error set.</summary>
    public static int Get<T>(nint handle, string what, out T target) where T : class
    {
        var entry = Find(handle);
        if (entry?.Target is T t)
        {
            target = t;
            return Status.Ok;
        }
        target = null!;
        return Refuse<T>(handle, what, entry);
    }

    /// <summary>Closes a handle: its slot is free for a later handle of another generation. Returns what it named.</summary>
    public static int Remove<T>(nint handle, string what, out T target) where T : class
    {
        lock (Gate)
        {
            var entry = Find(handle);
            if (entry?.Target is not T t)
            {
                target = null!;
                return Refuse<T>(handle, what, entry);
            }
            int slot = (int)((ulong)handle & 0xFFFF_FFFF) - 1;
            Volatile.Write(ref s_slots[slot], null);
            s_free.Push(slot);
            target = t;
            return Status.Ok;
        }
    }

    /// <summary>Handles open now (fastpt_debug_open_handles: a leak check for tests).</summary>
    public static int Open
    {
        get
        {
            lock (Gate)
                return s_used - s_free.Count;
        }
    }

    private static Entry? Find(nint handle)
    {
        ulong h = (ulong)handle;
        long slot = (long)(h & 0xFFFF_FFFF) - 1;
        var slots = Volatile.Read(ref s_slots);
        if (slot < 0 || slot >= slots.Length)
            return null;
        var entry = Volatile.Read(ref slots[slot]);
        return entry != null && entry.Generation == (uint)(h >> 32) ? entry : null;
    }

    private static int Refuse<T>(nint handle, string what, Entry? entry) => LastError.Set(Status.InvalidHandle,
        handle == 0 ? $"{what} is NULL"
        : entry != null ? $"{what} (0x{handle:X}) is a {KindName(entry.Target.GetType())}, not a {KindName(typeof(T))}"
        : $"{what} (0x{handle:X}) is not an open {KindName(typeof(T))}: it was closed already, or never came from a fastpt_*_create call");

    private static string KindName(Type type) =>
        type == typeof(PageTable) ? "fastpt_table" : type == typeof(FlushPlan) ? "fastpt_flush" : type == typeof(PageTableDirtyLog) ? "fastpt_dirty_log" : type.Name;
}
