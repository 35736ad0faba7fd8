using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastPT.Native.Exports;

/// <summary>fastpt_abi_version, fastpt_last_error, fastpt_status_name, fastpt_debug_open_handles.</summary>
internal static unsafe class LibraryExports
{
    /// <summary>FASTPT_ABI_VERSION: bumped on any incompatible change to include/fastpt.h.</summary>
    public const uint AbiVersion = 1;

    [UnmanagedCallersOnly(EntryPoint = "fastpt_abi_version")]
    public static uint Version() => AbiVersion;

    [UnmanagedCallersOnly(EntryPoint = "fastpt_last_error")]
    public static byte* LastErrorMessage() => LastError.Pointer;

    [UnmanagedCallersOnly(EntryPoint = "fastpt_status_name")]
    public static byte* StatusName(int status) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(Status.Name(status)));

    [UnmanagedCallersOnly(EntryPoint = "fastpt_debug_open_handles")]
    public static long OpenHandles() => Handles.Open;
}
