using System.Runtime.CompilerServices;
using FastPT.Entries;

namespace FastPT.Kernels;

/// <summary>
/// The per-entry rule of zap_pte_range plus pte_install_uffd_wp_if_needed: an entry is
/// cleared, and a file mapping registered for uffd-wp gets a uffd-wp marker in its place
/// when the old entry was write-protected (present with bit 10, swap with bit 2, or a marker).
/// </summary>
internal static class ZapRule
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
