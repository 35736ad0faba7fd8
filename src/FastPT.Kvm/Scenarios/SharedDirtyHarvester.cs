using FastPT.Entries;
using FastPT.Paging;

namespace FastPT.Kvm.Scenarios;

/// <summary>
/// Harvest-and-clear of D bits on 4 KiB leaves in shared mode: a vCPU may set A/D in the
/// same entries at any moment, so each clear is an atomic AND that returns the old value —
/// no bit KVM sets between our read and our write is lost. (The core has no harvest
/// operation yet; this stays here until it does.)
/// </summary>
public sealed unsafe class SharedDirtyHarvester
{
    private readonly nint[] _entries;
    private readonly ulong _start;

    public SharedDirtyHarvester(AddressSpace space, ulong start, int pages)
    {
        _start = start;
        _entries = new nint[pages];
        for (int i = 0; i < pages; i++)
        {
            ulong* e = space.TryGetEntry(start + (ulong)i * 4096, 1);
            if (e == null)
                throw new ArgumentException($"0x{start + (ulong)i * 4096:X} has no page table: map the range with 4 KiB pages first");
            _entries[i] = (nint)e;
        }
    }

    /// <summary>Clears D in every present leaf of the range; adds the pages that had it to <paramref name="dirty"/>.</summary>
    public int HarvestAndClear(ISet<ulong> dirty)
    {
        int found = 0;
        for (int i = 0; i < _entries.Length; i++)
        {
            ulong* e = (ulong*)_entries[i];
            ulong seen = Volatile.Read(ref *e);
            if ((seen & (Pte.Present | Pte.Dirty)) != (Pte.Present | Pte.Dirty))
                continue;
            ulong old = Interlocked.And(ref *e, ~Pte.Dirty);
            if ((old & Pte.Dirty) != 0)
            {
                dirty.Add(_start + (ulong)i * 4096);
                found++;
            }
        }
        return found;
    }
}
