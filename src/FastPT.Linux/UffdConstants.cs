namespace FastPT.Linux;

/// <summary>userfaultfd ABI numbers (x86-64), as in the fact sheet section 7.</summary>
public static class UffdConstants
{
    public const ulong Api = 0xAA;
    public const int UserModeOnly = 1;

    public const ulong IocApi = 0xC018AA3F;
    public const ulong IocRegister = 0xC020AA00;
    public const ulong IocUnregister = 0x8010AA01;
    public const ulong IocWake = 0x8010AA02;
    public const ulong IocWriteProtect = 0xC018AA06;
    public const ulong IocNew = 0xAA00;

    public const ulong RegisterModeMissing = 1 << 0;
    public const ulong RegisterModeWp = 1 << 1;
    public const ulong RegisterModeMinor = 1 << 2;

    public const ulong WriteProtectModeWp = 1 << 0;
    public const ulong WriteProtectModeDontWake = 1 << 1;

    public const byte EventPagefault = 0x12;
    public const byte EventFork = 0x13;
    public const byte EventRemap = 0x14;
    public const byte EventRemove = 0x15;
    public const byte EventUnmap = 0x16;

    public const ulong PagefaultFlagWrite = 1 << 0;
    public const ulong PagefaultFlagWp = 1 << 1;
    public const ulong PagefaultFlagMinor = 1 << 2;
}

/// <summary>UFFD_FEATURE_* bits requested in the UFFDIO_API handshake.</summary>
[Flags]
public enum UffdFeature : ulong
{
    None = 0,
    PagefaultFlagWp = 1 << 0,
    EventFork = 1 << 1,
    EventRemap = 1 << 2,
    EventRemove = 1 << 3,
    MissingHugetlbfs = 1 << 4,
    MissingShmem = 1 << 5,
    EventUnmap = 1 << 6,
    Sigbus = 1 << 7,
    ThreadId = 1 << 8,
    MinorHugetlbfs = 1 << 9,
    MinorShmem = 1 << 10,
    ExactAddress = 1 << 11,
    WpHugetlbfsShmem = 1 << 12,
    WpUnpopulated = 1 << 13,
    Poison = 1 << 14,
    WpAsync = 1 << 15,
    Move = 1 << 16,
}
