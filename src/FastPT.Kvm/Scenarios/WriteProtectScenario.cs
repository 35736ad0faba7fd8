using FastPT.Entries;
using FastPT.Kernels;
using FastPT.Kvm.Guest;
using FastPT.Kvm.Vmm;
using FastPT.Operations;
using FastPT.Paging;
using FastPT.Walk;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace FastPT.Kvm.Scenarios;

/// <summary>
/// uffd-wp inside a guest. FastPT write-protects a range of the guest's own address space
/// (present pages: RW cleared, bit 10 set; empty entries: the uffd-wp marker), the VMM makes
/// KVM drop its now-stale writable translations, the guest writes every page: each write
/// faults, the #PF handler hands CR2 and the error code to the VMM (a write-protect
/// message), the VMM resolves with FastPT (unprotect; a marker becomes a freshly mapped
/// page), the handler INVLPGs and returns, the write retries and completes.
/// </summary>
public sealed class WriteProtectScenario
{
    public const ulong RangeStart = 0x0000_0080_4000_0000;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    /// <param name="presentPages">Pages mapped (and written once) before the protect.</param>
    /// <param name="emptyPages">Pages after them left empty, which get markers.</param>
    /// <param name="flushShadow">
    /// Whether the VMM makes KVM drop stale writable translations after the protect. Off only
    /// to show why it is needed: under shadow paging KVM does not see the host's table edits.
    /// </param>
    public static WriteProtectReport Run(int presentPages = 12, int emptyPages = 4, bool flushShadow = true, Action<string>? log = null)
    {
        var report = new WriteProtectReport();
        using var m = new GuestMachine(PageFaultMode.ReportAndRetry);
        int pages = presentPages + emptyPages;
        ulong end = RangeStart + (ulong)pages * 4096;
        for (int i = 0; i < presentPages; i++)
            m.Space.Map(Page(i), GuestLayout.Scratch + (ulong)i * 4096, PageSize.Size4K, PgProt.SharedExec, PgProt.Table);
        ulong program = EmitWrites(m, pages, presentPages);

        // 1. The guest writes the present pages: KVM now holds writable translations for them.
        var exit = m.Start(CpuMode.UserMode, program, Limit);
        Expect(exit, GuestLayout.PortDone);
        log?.Invoke($"guest wrote {presentPages} mapped pages at 0x{RangeStart:X}: no faults");

        // 2. FastPT write-protects the whole range, markers into the empty entries.
        var flush = new FlushPlan();
        var wp = PageTableOps.ChangeProtection(m.Space, RangeStart, end, ChangeProtectionParams.UffdWriteProtect(PgProt.SharedExec, useMarkers: true), flush: flush);
        report.ProtectedEntries = wp.EntriesChanged;
        log?.Invoke($"FastPT uffd-wp [0x{RangeStart:X}, 0x{end:X}): {wp.EntriesChanged} entries changed, flush plan {flush.Count} range(s)");
        for (int i = 0; i < pages; i++)
            log?.Invoke($"  page {i}: entry 0x{m.Space.Entry(Page(i), 1):X}");
        if (flushShadow && flush.Count > 0)
        {
            m.Vm.ShadowWriteFlush();
            log?.Invoke("VMM: shadow write-protect sweep (KVM_GET_DIRTY_LOG) so KVM re-walks the guest's tables on the next write");
        }

        // 3. The guest writes every page again; each write-protect fault goes to the VMM.
        exit = m.Start(CpuMode.UserMode, program + GuestLayout.CodeSize / 2, Limit);
        while (exit.IsOutTo(GuestLayout.PortPageFault))
        {
            var message = new WriteProtectMessage(m.Memory.U64(GuestLayout.Mailbox), (PageFaultError)m.Memory.U64(GuestLayout.Mailbox + 8), m.Memory.U64(GuestLayout.Mailbox + 16));
            ulong page = message.Address & ~0xFFFUL;
            var predicted = m.Space.Translate(message.Address, AccessType.Write, m.Model(CpuMode.UserMode), updateAccessedDirty: false);
            ulong before = m.Space.Entry(page, 1);
            bool marker = PteMarker.IsUffdWp(before);
            bool wpPresent = (before & Pte.Present) != 0 && (before & Pte.UffdWp) != 0;
            if (!marker && !wpPresent)
                throw new InvalidOperationException($"#PF at 0x{message.Address:X} (error {message.ErrorCode}) on an entry that is not write-protected: 0x{before:X}");
            flush.Clear();
            PageTableOps.ChangeProtection(m.Space, page, page + 4096, ChangeProtectionParams.UffdUnprotect(PgProt.SharedExec), flush: flush);
            if (marker)
            {
                if (m.Space.Entry(page, 1) != 0)
                    throw new InvalidOperationException($"resolving the marker at 0x{page:X} left 0x{m.Space.Entry(page, 1):X}, not an empty entry");
                int index = (int)((page - RangeStart) / 4096);
                m.Space.Map(page, GuestLayout.Scratch + (ulong)index * 4096, PageSize.Size4K, PgProt.SharedExec, PgProt.Table);
            }
            ulong after = m.Space.Entry(page, 1);
            report.Messages.Add(new WriteProtectEvent(message, predicted.ErrorCode, marker, before, after));
            log?.Invoke($"#PF write 0x{message.Address:X} rip 0x{message.Rip:X}: error {Hex(message.ErrorCode)} (FastPT predicts {Hex(predicted.ErrorCode)}), " +
                $"{(marker ? "uffd-wp marker -> mapped a page" : "uffd-wp page -> unprotected")}: 0x{before:X} -> 0x{after:X}; guest INVLPGs and retries");
            if (report.Messages.Count > pages * 2)
                throw new InvalidOperationException($"more than {pages * 2} write-protect faults for {pages} pages: the resolve is not taking effect");
            exit = m.Resume(Limit);
        }
        Expect(exit, GuestLayout.PortDone);

        // 4. Every page is writable again, D set by the vCPU's retried write, data in place.
        for (int i = 0; i < pages; i++)
        {
            ulong e = m.Space.Entry(Page(i), 1);
            byte data = m.Memory.Bytes((e & Pte.PfnMask) + (ulong)(i * 8 % 4096), 1)[0];
            report.Final.Add(new WriteProtectFinal(Page(i), e, data, (byte)(i + 1)));
        }
        log?.Invoke($"guest finished: {report.Messages.Count} write-protect messages for {pages} pages; " +
            $"{report.Final.Count(f => f.Ok)} pages writable, clean of uffd-wp, dirty, holding what the guest wrote");
        return report;
    }

    private static ulong Page(int i) => RangeStart + (ulong)i * 4096;

    private static string Hex(PageFaultError e) => $"0x{(uint)e:X}";

    private static void Expect(in VcpuExit exit, ushort port)
    {
        if (!exit.IsOutTo(port))
            throw new KvmException($"the guest stopped unexpectedly: {exit.Describe()}");
    }

    /// <summary>
    /// Two straight-line programs in the user code area: the first writes the present pages
    /// (0x80 | index), the second (at +1 MiB) writes every page (index + 1).
    /// </summary>
    private static ulong EmitWrites(GuestMachine m, int pages, int presentPages)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            var a = new Assembler(64);
            int count = pass == 0 ? presentPages : pages;
            for (int i = 0; i < count; i++)
            {
                a.mov(rax, Page(i) + (ulong)(i * 8 % 4096));
                a.mov(__byte_ptr[rax], (byte)(pass == 0 ? 0x80 | i : i + 1));
            }
            a.mov(dx, GuestLayout.PortDone);
            a.@out(dx, al);
            a.hlt();
            GuestAssembler.Emit(m.Memory, a, GuestLayout.UserCode + (ulong)pass * (GuestLayout.CodeSize / 2), GuestLayout.CodeSize / 2);
        }
        return GuestLayout.UserCode;
    }
}

/// <summary>What the guest's #PF handler hands the VMM.</summary>
public readonly record struct WriteProtectMessage(ulong Address, PageFaultError ErrorCode, ulong Rip);

/// <summary>One fault and its resolution.</summary>
public readonly record struct WriteProtectEvent(WriteProtectMessage Message, PageFaultError Predicted, bool WasMarker, ulong EntryBefore, ulong EntryAfter);

/// <summary>A page's entry and first written byte at the end.</summary>
public readonly record struct WriteProtectFinal(ulong Va, ulong Entry, byte Data, byte Expected)
{
    public bool Ok => (Entry & (Pte.Present | Pte.Writable | Pte.Dirty)) == (Pte.Present | Pte.Writable | Pte.Dirty)
        && (Entry & Pte.UffdWp) == 0 && Data == Expected;
}

public sealed class WriteProtectReport
{
    public long ProtectedEntries { get; set; }
    public List<WriteProtectEvent> Messages { get; } = [];
    public List<WriteProtectFinal> Final { get; } = [];
}
