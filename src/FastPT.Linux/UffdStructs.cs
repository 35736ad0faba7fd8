using System.Runtime.InteropServices;

namespace FastPT.Linux;

/// <summary>struct uffdio_api (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioApi
{
    public ulong Api;
    public ulong Features;
    public ulong Ioctls;
}

/// <summary>struct uffdio_range (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioRange
{
    public ulong Start;
    public ulong Length;
}

/// <summary>struct uffdio_register (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioRegister
{
    public UffdioRange Range;
    public ulong Mode;
    public ulong Ioctls;
}

/// <summary>struct uffdio_writeprotect (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioWriteProtect
{
    public UffdioRange Range;
    public ulong Mode;
}

/// <summary>
/// struct uffd_msg (32 bytes, packed). Only the pagefault member of the union is decoded;
/// <see cref="Word1"/>..<see cref="Word3"/> hold the union's raw words for other events.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct UffdMessage
{
    [FieldOffset(0)] public byte Event;
    [FieldOffset(8)] public ulong Word1;
    [FieldOffset(16)] public ulong Word2;
    [FieldOffset(24)] public ulong Word3;

    /// <summary>pagefault.flags (UFFD_PAGEFAULT_FLAG_*).</summary>
    public readonly ulong PagefaultFlags => Word1;

    /// <summary>pagefault.address.</summary>
    public readonly ulong PagefaultAddress => Word2;

    /// <summary>pagefault.feat.ptid (with UFFD_FEATURE_THREAD_ID).</summary>
    public readonly uint PagefaultThreadId => (uint)Word3;

    public override readonly string ToString() =>
        $"uffd_msg(event=0x{Event:X2}, flags=0x{Word1:X}, address=0x{Word2:X})";
}
