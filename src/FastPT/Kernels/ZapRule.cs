using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>How a zap treats markers (Linux's zap flags and the VMA's uffd-wp state).</summary>
public readonly record struct ZapParams(bool DropMarkers, bool KeepUffdWpAsMarker)
{
    /// <summary>MADV_DONTNEED on a registered file mapping: write protection survives as markers.</summary>
    public static ZapParams DontNeedFileUffdWp => new(false, true);
    /// <summary>MADV_DONTNEED elsewhere (anonymous memory drops markers too).</summary>
    public static ZapParams DontNeed => new(true, false);
    /// <summary>munmap / exit: everything goes.</summary>
    public static ZapParams Unmap => new(true, false);
}

/// <summary>
/// The per-entry rule of zap_pte_range plus pte_install_uffd_wp_if_needed: an entry is
/// cleared, and a file mapping registered for uffd-wp gets a uffd-wp marker in its place
/// when the old entry was write-protected (present with bit 10, swap with bit 2, or a marker).
/// </summary>
public static class ZapRule
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong old, in ZapParams p, out bool unmapped)
    {
        unmapped = false;
        switch (LinuxPte.Classify(old))
        {
            case EntryKind.None:
                return old;
            case EntryKind.Present:
                unmapped = true;
                return p.KeepUffdWpAsMarker && (old & Pte.UffdWp) != 0 ? PteMarker.UffdWp : 0;
            case EntryKind.Marker:
                if (PteMarker.IsGuard(old) && !p.DropMarkers)
                    return old;
                return p.KeepUffdWpAsMarker && PteMarker.IsUffdWp(old) ? PteMarker.UffdWp
                    : p.DropMarkers ? 0 : old;
            default:
                return p.KeepUffdWpAsMarker && (old & SwapEntry.UffdWp) != 0 ? PteMarker.UffdWp : 0;
        }
    }
}
