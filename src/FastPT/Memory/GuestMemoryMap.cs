using System.Runtime.CompilerServices;

namespace FastPT.Memory;

/// <summary>One region of guest RAM: guest-physical [GuestPhysical, GuestPhysical + Size) at host address Host.</summary>
public readonly record struct GuestMemoryRegion(ulong GuestPhysical, ulong Size, nint Host)
{
    public ulong End => GuestPhysical + Size;
}

/// <summary>
/// A guest's physical memory as the host sees it: regions (a VMM's memory slots) mapping
/// guest-physical addresses to host memory, with holes between them (MMIO gaps, slots not
/// plugged). Page tables a guest writes may live in any region and point anywhere, so every
/// lookup is checked: an address outside every region gives null, never a pointer.
/// <para>
/// Regions are added and removed whole. The list is replaced, never edited, so a lookup on
/// another thread sees the old list or the new one; but a region's host memory must stay
/// mapped until no walk can still be using it (remove a slot only while no translation or
/// batch verb runs on tables in it, as KVM waits for its readers before a memslot goes).
/// </para>
/// </summary>
public sealed unsafe class GuestMemoryMap
{
    /// <summary>Entries hold bits 12..51 of an address: guest-physical memory ends at 2^52.</summary>
    public const ulong MaxGuestPhysical = 1UL << 52;

    private GuestMemoryRegion[] _regions = [];

    /// <summary>The regions in ascending guest-physical order.</summary>
    public ReadOnlySpan<GuestMemoryRegion> Regions => _regions;

    /// <summary>The current list, never changed in place: a walk looks up every table in one version of it.</summary>
    internal GuestMemoryRegion[] Snapshot => Volatile.Read(ref _regions);

    /// <summary>
    /// Adds guest-physical [guestPhysical, guestPhysical + size) backed by host memory at
    /// <paramref name="host"/>. Base, size and host pointer must be 4 KiB-aligned, the region
    /// must end at or below 2^52 and overlap no other region.
    /// </summary>
    public void Add(ulong guestPhysical, ulong size, byte* host)
    {
        if (host == null)
            throw new ArgumentNullException(nameof(host));
        if (((guestPhysical | size | (ulong)host) & 4095) != 0)
            throw new ArgumentException($"guest memory region 0x{guestPhysical:X} + 0x{size:X} at host 0x{(ulong)host:X}: base, size and host pointer must be 4 KiB-aligned");
        if (size == 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, "a guest memory region needs at least one 4 KiB page");
        if (guestPhysical >= MaxGuestPhysical || size > MaxGuestPhysical - guestPhysical)
            throw new ArgumentOutOfRangeException(nameof(guestPhysical), $"guest memory region 0x{guestPhysical:X} + 0x{size:X} ends above 2^52, where no page-table entry can point");
        var old = _regions;
        int at = 0;
        while (at < old.Length && old[at].GuestPhysical < guestPhysical)
            at++;
        if (at > 0 && old[at - 1].End > guestPhysical)
            throw Overlap(guestPhysical, size, old[at - 1]);
        if (at < old.Length && old[at].GuestPhysical < guestPhysical + size)
            throw Overlap(guestPhysical, size, old[at]);
        var next = new GuestMemoryRegion[old.Length + 1];
        old.AsSpan(0, at).CopyTo(next);
        next[at] = new GuestMemoryRegion(guestPhysical, size, (nint)host);
        old.AsSpan(at).CopyTo(next.AsSpan(at + 1));
        Volatile.Write(ref _regions, next);
    }

    /// <summary>Removes the region that starts at <paramref name="guestPhysical"/>; false if none does.</summary>
    public bool Remove(ulong guestPhysical)
    {
        var old = _regions;
        int at = Array.FindIndex(old, r => r.GuestPhysical == guestPhysical);
        if (at < 0)
            return false;
        var next = new GuestMemoryRegion[old.Length - 1];
        old.AsSpan(0, at).CopyTo(next);
        old.AsSpan(at + 1).CopyTo(next.AsSpan(at));
        Volatile.Write(ref _regions, next);
        return true;
    }

    /// <summary>
    /// The host address of guest-physical [guestPhysical, guestPhysical + length), or null when
    /// any of it lies outside guest RAM (a hole, MMIO, beyond the last region). A range that
    /// spans two adjacent regions is refused too: their host memory need not be contiguous.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* TryHost(ulong guestPhysical, ulong length = 1)
    {
        // Few regions (a VMM has a handful of slots): a linear scan of predictable compares.
        foreach (var r in Volatile.Read(ref _regions))
        {
            ulong offset = guestPhysical - r.GuestPhysical;
            if (offset < r.Size)
                return length <= r.Size - offset ? (byte*)r.Host + offset : null;
        }
        return null;
    }

    /// <summary>
    /// The host address of a whole 4 KiB page (a page table), or null outside guest RAM. Regions
    /// are 4 KiB-aligned, so a page is inside one as soon as its first byte is.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong* TryPage(ulong guestPhysical)
    {
        foreach (var r in Volatile.Read(ref _regions))
        {
            ulong offset = (guestPhysical & ~4095UL) - r.GuestPhysical;
            if (offset < r.Size)
                return (ulong*)((byte*)r.Host + offset);
        }
        return null;
    }

    /// <summary>The host address of guest-physical [guestPhysical, + length); throws outside guest RAM.</summary>
    public byte* Host(ulong guestPhysical, ulong length = 1)
    {
        byte* p = TryHost(guestPhysical, length);
        if (p == null)
            throw new ArgumentOutOfRangeException(nameof(guestPhysical), $"guest-physical 0x{guestPhysical:X} + 0x{length:X} is not inside one region of guest RAM ({Describe()})");
        return p;
    }

    public bool Contains(ulong guestPhysical, ulong length = 1) => TryHost(guestPhysical, length) != null;

    /// <summary>The regions as text, for error messages.</summary>
    public string Describe() =>
        _regions.Length == 0 ? "no regions" : string.Join(", ", _regions.Select(r => $"[0x{r.GuestPhysical:X}, 0x{r.End:X})"));

    private static ArgumentException Overlap(ulong guestPhysical, ulong size, GuestMemoryRegion other) =>
        new($"guest memory region [0x{guestPhysical:X}, 0x{guestPhysical + size:X}) overlaps [0x{other.GuestPhysical:X}, 0x{other.End:X}); remove that one first");
}
