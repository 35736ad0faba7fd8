namespace FastPT.Traces.Operations;

/// <summary>The operations a trace carries; one FastPT event each.</summary>
public enum TraceOpKind : byte
{
    /// <summary>Arg = pid (0 when not a real process), Arg2 = userfaultfd features (<see cref="TraceFeatures"/>).</summary>
    SpaceCreated,
    SpaceDisposed,
    /// <summary>Arg = <see cref="TraceRegionKind"/>, Arg2 = <see cref="TraceProtection"/>.</summary>
    MapRegion,
    Unmap,
    /// <summary>Start = address, Arg = 1 for a store.</summary>
    Access,
    /// <summary>Arg = <see cref="TraceProtection"/>.</summary>
    Protect,
    Zap,
    /// <summary>Arg = flags (bit 0 WP_UNPOPULATED, bit 1 WP_ASYNC).</summary>
    RegisterWp,
    /// <summary>Arg = 1 to protect, 0 to resolve.</summary>
    WriteProtect,
    Unregister,
}

/// <summary>Backing of a region, numbered as the FastPT events number it.</summary>
public enum TraceRegionKind { File = 0, Anon = 1 }

/// <summary>Protection, numbered as the FastPT events number it.</summary>
public enum TraceProtection { None = 0, Read = 1, ReadWrite = 2 }

/// <summary>What an access did, numbered as the FastPT Access event's Outcome.</summary>
public enum TraceAccessOutcome { Completed = 0, WpFault = 1, Segv = 2 }

/// <summary>An address space's userfaultfd features, numbered as SpaceCreated's Features field.</summary>
[Flags]
public enum TraceFeatures { None = 0, WpUnpopulated = 1, WpAsync = 2 }
