using System.Runtime.CompilerServices;

namespace FastPT;

/// <summary>
/// The outcome of a hardware walk, one of three:
/// <list type="bullet">
/// <item><see cref="Success"/>: <see cref="PhysicalAddress"/> and the page <see cref="Size"/>.</item>
/// <item>a page fault: <see cref="ErrorCode"/> as the CPU would push it; <see cref="FaultLevel"/>
/// is the level of the entry that stopped the walk (0 when the fault is a permission fault on
/// the whole translation).</item>
/// <item><see cref="OutsideGuestMemory"/>: a link (or the root) names a table where the guest
/// has no RAM. The SDM leaves this undefined, so it is not dressed up as a #PF:
/// <see cref="PhysicalAddress"/> is that table's guest-physical address and
/// <see cref="FaultLevel"/> its level (the root's is the number of levels).</item>
/// </list>
/// Sixteen bytes, so it comes back in two registers.
/// </summary>
public readonly record struct TranslateResult
{
    private const uint SuccessBit = 1, OutsideBit = 2;
    private readonly ulong _address;
    // bit 0 success, bit 1 outside guest memory, bits 2-3 page size, bits 4-7 fault level, bits 16-31 error code
    private readonly uint _info;

    /// <summary>A result as a walk makes it: a translation when <paramref name="success"/>, else a #PF.</summary>
    /// <param name="success">Whether the address translated.</param>
    /// <param name="physicalAddress">The physical address it translated to.</param>
    /// <param name="size">The page size of the leaf that mapped it.</param>
    /// <param name="errorCode">The #PF error code when it did not translate.</param>
    /// <param name="faultLevel">The level of the entry that stopped the walk (0: a permission fault).</param>
    public TranslateResult(bool success, ulong physicalAddress, PageSize size, PageFaultError errorCode, int faultLevel)
        : this(physicalAddress, (success ? SuccessBit : 0) | ((uint)size << 2) | ((uint)faultLevel << 4) | ((uint)errorCode << 16))
    {
    }

    private TranslateResult(ulong address, uint info)
    {
        _address = address;
        _info = info;
    }

    /// <summary>The address translated.</summary>
    public bool Success => (_info & SuccessBit) != 0;

    /// <summary>The translated physical address; for <see cref="OutsideGuestMemory"/>, the table's.</summary>
    public ulong PhysicalAddress => _address;

    /// <summary>The size of the page that mapped the address.</summary>
    public PageSize Size => (PageSize)((_info >> 2) & 3);

    /// <summary>The #PF error code the CPU would push (when not <see cref="Success"/>).</summary>
    public PageFaultError ErrorCode => (PageFaultError)(_info >> 16);

    /// <summary>The level of the entry that stopped the walk (0 for a permission fault).</summary>
    public int FaultLevel => (int)((_info >> 4) & 15);

    /// <summary>The walk reached a table outside guest RAM (see the type's remarks): neither a translation nor a #PF.</summary>
    public bool OutsideGuestMemory => (_info & OutsideBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TranslateResult Ok(ulong physicalAddress, int level) =>
        new(physicalAddress, SuccessBit | ((uint)(level - 1) << 2));

    /// <summary>A #PF with <paramref name="error"/>, stopped at <paramref name="level"/>.</summary>
    public static TranslateResult Fault(PageFaultError error, int level = 0) => new(0, ((uint)level << 4) | ((uint)error << 16));

    /// <summary>The table at <paramref name="tablePhysical"/> (level <paramref name="level"/>) is not in guest RAM.</summary>
    public static TranslateResult Outside(ulong tablePhysical, int level) => new(tablePhysical, OutsideBit | ((uint)level << 4));
}
