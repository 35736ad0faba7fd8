using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// The per-entry rule of Linux's change_pte_range (6.12+ semantics), the readable
/// specification every change-protection kernel must match bit for bit.
/// </summary>
internal static class ChangeProtectionRule
{
    // 6.12 swap types with CONFIG_MIGRATION, MEMORY_FAILURE and DEVICE_PRIVATE (fact sheet 3.2).
    public const int MigrationRead = 24;
    public const int MigrationReadExclusive = 25;
    public const int MigrationWrite = 26;
    public const int DevicePrivateWrite = 27;
    public const int DevicePrivateRead = 28;

    /// <summary>
    /// The new value of one leaf entry. <paramref name="counted"/> says whether Linux counts it
    /// in change_protection's result (present entries always; others when they change).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong old, in ChangeProtectionParams p, out bool counted)
    {
        switch (LinuxPte.Classify(old))
        {
            case EntryKind.Present:
                counted = true;
                return ApplyPresent(old, p);
            case EntryKind.None:
                counted = p.Protect && p.UseMarkers;
                return counted ? PteMarker.UffdWp : old;
            case EntryKind.Marker:
                // Poisoned and guard markers are never changed; a uffd-wp marker only goes away on resolve.
                counted = p.Resolve && !PteMarker.IsPoisoned(old) && !PteMarker.IsGuard(old);
                return counted ? 0 : old;
            default:
                ulong v = ApplySwap(old, p);
                counted = v != old;
                return v;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ApplyPresent(ulong old, in ChangeProtectionParams p)
        => Finish(LinuxPte.Modify(old, p.NewProt), p);

    /// <summary>change_huge_pmd / change_huge_pud: the same rule with pmd_modify.</summary>
    public static ulong ApplyHuge(ulong old, in ChangeProtectionParams p, int level)
        => Finish(level == 2 ? LinuxPte.ModifyHuge(old, p.NewProt) : LinuxPte.ModifyPud(old, p.NewProt), p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Finish(ulong v, in ChangeProtectionParams p)
    {
        if (p.Protect)
            v = LinuxPte.MkUffdWp(v);
        else if (p.Resolve)
            v = LinuxPte.ClearUffdWp(v);
        if (p.TryWritable && (v & Pte.Writable) == 0 && CanChangeWritable(v, p))
            v = LinuxPte.MkWrite(v);
        return v;
    }

    /// <summary>
    /// can_change_pte_writable: never for PROT_NONE or a uffd-wp entry of a uffd-wp VMA; in a
    /// shared mapping only when dirty (a clean page needs its write fault for writeback
    /// accounting); in a private one only for exclusive anonymous pages, which here means
    /// any page but the shared zero page (mapped special).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool CanChangeWritable(ulong v, in ChangeProtectionParams p)
    {
        if (!p.VmaWritable || LinuxPte.IsProtNone(v))
            return false;
        if (p.VmaUffdWp && (v & Pte.UffdWp) != 0)
            return false;
        return p.VmaShared ? LinuxPte.IsDirty(v) : (v & Pte.Special) == 0;
    }

    /// <summary>Swap-format entries: writable migration/device entries become readable, then the uffd rule on bit 2.</summary>
    public static ulong ApplySwap(ulong old, in ChangeProtectionParams p)
    {
        ulong v = old;
        int type = SwapEntry.Type(old);
        if (type == MigrationWrite)
        {
            ulong offset = SwapEntry.Offset(old);
            v = SwapEntry.Make(p.VmaShared ? MigrationRead : MigrationReadExclusive, offset) | (old & SwapEntry.SoftDirty);
        }
        else if (type == DevicePrivateWrite)
        {
            v = SwapEntry.Make(DevicePrivateRead, SwapEntry.Offset(old)) | (old & SwapEntry.UffdWp);
        }
        if (p.Protect)
            v |= SwapEntry.UffdWp;
        else if (p.Resolve)
            v &= ~SwapEntry.UffdWp;
        return v;
    }
}
