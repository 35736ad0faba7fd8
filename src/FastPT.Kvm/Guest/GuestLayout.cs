namespace FastPT.Kvm.Guest;

/// <summary>
/// Where things live in guest RAM. The system area is identity-mapped (virtual = physical)
/// under PML4 slot 0; experiments use the other slots, so the A/D bits they cause never share
/// an entry with the system's own (which are set in advance).
/// </summary>
public static class GuestLayout
{
    public const ulong Gdt = 0x1000;
    public const ulong Idt = 0x2000;
    public const ulong Tss = 0x3000;
    /// <summary>Supervisor page where the #PF handler leaves fault messages for the VMM.</summary>
    public const ulong Mailbox = 0x4000;
    public const ulong KernelHandlers = 0x5000;
    public const ulong KernelHandlersEnd = 0x8000;
    public const ulong KernelStackTop = 0x10000;
    public const ulong UserStackTop = 0x20000;
    /// <summary>User-accessible page for host/guest exchange (harvest rounds).</summary>
    public const ulong UserShared = 0x20000;
    public const ulong UserSharedEnd = 0x30000;
    /// <summary>Per-probe result slots (16 bytes each), supervisor-only.</summary>
    public const ulong Results = 0x100000;
    public const ulong ResultsEnd = 0x200000;
    public const ulong KernelCode = 0x200000;
    public const ulong UserCode = 0x400000;
    public const ulong CodeSize = 0x200000;
    /// <summary>FastPT's tables (the system's and the generated spaces').</summary>
    public const ulong Tables = 0x600000;
    public const ulong TablesEnd = 0xC00000;
    /// <summary>Tables the guest writes itself (the guest-built check), low part.</summary>
    public const ulong GuestTables = 0xC00000;
    public const ulong GuestTablesEnd = 0x1000000;
    /// <summary>Data frames experiments map and access; filled with RET (0xC3) so fetches return.</summary>
    public const ulong Scratch = 0x1000000;
    public const ulong MemorySize = 0x2000000;

    /// <summary>
    /// RAM in a second slot above a hole (as a PC's RAM continues above 4 GiB): guest-built
    /// tables in its first 2 MiB, scratch data (RET) in the rest. Only machines that ask for it have it.
    /// </summary>
    public const ulong HighRam = 0x1_0000_0000;
    public const ulong HighRamSize = 0x40_0000;
    public const ulong HighTablesEnd = HighRam + 0x20_0000;

    public const ushort KernelCs = 0x08;
    public const ushort KernelDs = 0x10;
    public const ushort UserCs = 0x18 | 3;
    public const ushort UserDs = 0x20 | 3;
    public const ushort TssSelector = 0x28;

    /// <summary>Ports the guest writes to reach the VMM.</summary>
    public const ushort PortDone = 0xE0;
    public const ushort PortUnexpectedException = 0xE1;
    public const ushort PortPageFault = 0xE2;
    public const ushort PortRoundDone = 0xE3;

    public const int MaxProbesPerRun = (int)((ResultsEnd - Results) / 16);
}
