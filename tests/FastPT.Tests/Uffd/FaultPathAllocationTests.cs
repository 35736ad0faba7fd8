using FastPT.Uffd;
using FastPT.Walk;
using Xunit;

namespace FastPT.Tests.Uffd;

/// <summary>
/// The write-protect fault round trip (fault, resolve one page, retry) is an embedder's hot
/// path: once warm it must allocate nothing managed. Counted with the GC's per-thread
/// allocation counter, which is exact, not timed.
/// </summary>
public class FaultPathAllocationTests
{
    [Fact]
    public void WpFaultRoundTrip_AllocatesNothingOnceWarm()
    {
        const ulong Base = 0x7F00_0000_0000;
        const int Pages = 256;
        using var m = new MemoryModel();
        m.Map(Base, Pages * 4096, Backing.File, MemoryProtection.ReadWrite);
        m.RegisterWriteProtect(Base, Pages * 4096, new FlushPlan());

        var flush = new FlushPlan();
        void RoundTrips()
        {
            flush.Clear();
            m.WriteProtect(Base, Pages * 4096, protect: true, flush);
            for (int p = 0; p < Pages; p++)
            {
                ulong va = Base + (ulong)p * 4096;
                var r = m.Access(va, write: true, flush);
                if (r.Outcome != AccessOutcome.WriteProtectFault)
                    throw new InvalidOperationException($"page {p}: expected a write-protect fault, got {r.Outcome}");
                m.WriteProtect(r.Message.Address, 4096, protect: false, flush);
                var retry = m.Access(va, write: true, flush);
                if (retry.Outcome != AccessOutcome.Completed)
                    throw new InvalidOperationException($"page {p}: the retry did not complete: {retry.Outcome}");
            }
        }

        RoundTrips(); // warm: page cache, tables and the flush plan grow once
        long before = GC.GetAllocatedBytesForCurrentThread();
        RoundTrips();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated == 0, $"{allocated} bytes allocated over {Pages} fault round trips");
    }
}
