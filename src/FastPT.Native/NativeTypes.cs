using System.Runtime.InteropServices;

namespace FastPT.Native;

// The structs of include/fastpt.h, field for field (the header's static asserts pin the sizes).

/// <summary>fastpt_options.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeOptions
{
    public const uint SharedTables = 1;

    public uint Levels;
    public uint Flags;
    public int Parallelism;
    public uint Reserved;
    public long BudgetPages;
    public long MaxTables;
}

/// <summary>fastpt_allocator: table memory from the caller, through three callbacks.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeAllocator
{
    public void* Context;
    public delegate* unmanaged<void*, ulong*, int> Allocate;
    public delegate* unmanaged<void*, ulong, void> Release;
    public delegate* unmanaged<void*, ulong, void*> Address;
}

/// <summary>fastpt_table_info.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeTableInfo
{
    public ulong Root;
    public long TablesInUse;
    public uint Levels;
    public uint Reserved;
}

/// <summary>fastpt_map_result.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeMapResult
{
    public long Leaves4K;
    public long Leaves2M;
    public long Leaves1G;
    public int TablesAllocated;
    public int Reserved;
}

/// <summary>fastpt_walk_result.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeWalkResult
{
    public int Status;
    public int TablesAllocated;
    public int TablesFreed;
    public int HugeSplits;
    public ulong WalkEnd;
    public long EntriesChanged;

    public static NativeWalkResult From(in WalkResult r) => new()
    {
        Status = (int)r.Status,
        TablesAllocated = r.TablesAllocated,
        TablesFreed = r.TablesFreed,
        HugeSplits = r.HugeSplits,
        WalkEnd = r.WalkEnd,
        EntriesChanged = r.EntriesChanged,
    };
}

/// <summary>fastpt_protection: the Linux-level change_protection's parameters.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeProtection
{
    public const uint VmaWritable = 1, VmaShared = 2, VmaUffdWp = 4, UseMarkers = 8, SplitHuge = 16;

    public ulong NewProt;
    public uint CpFlags;
    public uint Flags;
}

/// <summary>fastpt_scan_request.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeScanRequest
{
    public const uint WriteProtect = 1;

    public ulong Mask;
    public ulong AnyOf;
    public ulong Inverted;
    public ulong ReturnMask;
    public long MaxPages;
    public uint Flags;
    public uint Reserved;
}

/// <summary>fastpt_scan_result.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeScanResult
{
    public int Status;
    public int RegionCount;
    public long PagesFound;
    public ulong WalkEnd;
}

/// <summary>fastpt_cpu_mode.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeCpuMode
{
    public const uint User = 1, WriteProtect = 2, Nxe = 4, Smep = 8, Smap = 16, AlignmentCheck = 32, ProtectionKeys = 64, NonLeafBit8Reserved = 128;
    public const uint All = 255;

    public uint Flags;
    public uint Pkru;
    public uint MaxPhysicalAddressBits;
    public uint Reserved;
}

/// <summary>fastpt_translation.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeTranslation
{
    public ulong Physical;
    public ulong PageSize;
    public uint ErrorCode;
    public int FaultLevel;
    public int Success;
    public int OutsideGuestMemory;
}
