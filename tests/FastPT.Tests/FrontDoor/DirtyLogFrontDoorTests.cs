using FastPT.Operations;
using FastPT.Paging;
using Xunit;

namespace FastPT.Tests.FrontDoor;

/// <summary>
/// The front door's dirty log: both modes work through <see cref="PageTable.CreateDirtyLog"/>, bad
/// input is a <see cref="PageTableException"/> with the C ABI's error, and a log outlived by its
/// table refuses every call instead of touching freed tables.
/// </summary>
public sealed class DirtyLogFrontDoorTests
{
    private const ulong Gpa = 0x1_0000_0000;
    private static readonly CpuMode Cpu = new(User: true);

    private static PageTable Table()
    {
        var table = new PageTable(new PageTableOptions { SharedTables = true });
        table.MapRange(Gpa, Gpa + (2UL << 20), 0x7f00_0000_0000, PageFlags.Writable | PageFlags.User, PageSize.Size4K);
        table.MapRange(Gpa + (2UL << 20), Gpa + (4UL << 20), 0x7f00_0020_0000, PageFlags.Writable | PageFlags.User);
        return table;
    }

    [Theory]
    [InlineData(DirtyLogMode.DirtyBit)]
    [InlineData(DirtyLogMode.WriteProtect)]
    public void Writes_are_logged_cleared_and_logged_again(DirtyLogMode mode)
    {
        using var table = Table();
        var log = table.CreateDirtyLog(mode);
        Assert.Equal(mode, log.Mode);
        var flush = new FlushPlan();
        log.AddSlot(0, Gpa, 4UL << 20, flush);
        Assert.Equal(1024UL, log.Pages(0));
        void Write(ulong gpa)
        {
            var t = table.Translate(gpa, AccessType.Write, Cpu);
            if (!t.Success && mode == DirtyLogMode.WriteProtect)
            {
                Assert.Equal(DirtyLogFault.Resolved, log.HandleWriteFault(gpa, flush));
                t = table.Translate(gpa, AccessType.Write, Cpu);
            }
            Assert.True(t.Success);
        }
        Write(Gpa + 5 * 4096);
        Write(Gpa + (3UL << 20));
        var bitmap = new ulong[16];
        Assert.True(log.Get(0, bitmap, flush).Complete);
        Assert.Equal(1UL << 5, bitmap[0]);
        Assert.Equal(ulong.MaxValue, bitmap[8]);
        Assert.Equal(513, log.Clear(0, 0, bitmap, flush));
        Array.Clear(bitmap);
        log.Get(0, bitmap, flush);
        Assert.All(bitmap, w => Assert.Equal(0UL, w));
        Write(Gpa + 5 * 4096);
        log.Get(0, bitmap, flush);
        Assert.Equal(1UL << 5, bitmap[0]);
        log.RemoveSlot(0, flush);
        Assert.True(table.Translate(Gpa + 6 * 4096, AccessType.Write, Cpu).Success);
    }

    [Fact]
    public void Bad_input_is_a_typed_error_and_a_closed_table_is_refused()
    {
        var table = Table();
        var log = table.CreateDirtyLog(DirtyLogMode.WriteProtect);
        var flush = new FlushPlan();
        PageTableError Error(Action a) => Assert.Throws<PageTableException>(a).Error;

        Assert.Equal(PageTableError.InvalidArgument, Error(() => table.CreateDirtyLog((DirtyLogMode)5)));
        Assert.Equal(PageTableError.InvalidArgument, Error(() => table.CreateDirtyLog(granularity: (DirtyLogGranularity)5)));
        Assert.Equal(PageTableError.Misaligned, Error(() => log.AddSlot(0, Gpa + 1, 4096, flush)));
        Assert.Equal(PageTableError.InvalidRange, Error(() => log.AddSlot(0, Gpa, 0, flush)));
        Assert.Equal(PageTableError.InvalidRange, Error(() => log.AddSlot(0, ulong.MaxValue - 4095, 8192, flush)));
        Assert.Equal(PageTableError.InvalidArgument, Error(() => log.AddSlot(-1, Gpa, 4096, flush)));
        log.AddSlot(0, Gpa, 4UL << 20, flush);
        Assert.Equal(PageTableError.InvalidArgument, Error(() => log.AddSlot(1, Gpa, 4096, flush)));
        Assert.Equal(PageTableError.InvalidArgument, Error(() => log.Pages(4)));
        Assert.Equal(PageTableError.BufferTooSmall, Error(() => log.Get(0, new ulong[15], flush)));
        Assert.Equal(PageTableError.Misaligned, Error(() => log.Clear(0, 3, [1], flush)));
        Assert.Equal(PageTableError.InvalidArgument, Error(() => log.Clear(0, 0, new ulong[17], flush)));
        Assert.Equal(PageTableError.InvalidArgument, Error(() => table.CreateDirtyLog().HandleWriteFault(Gpa, flush)));
        Assert.Throws<ArgumentNullException>(() => log.HandleWriteFault(Gpa, null!));

        table.Dispose();
        Assert.Throws<ObjectDisposedException>(() => log.Get(0, new ulong[16], flush));
        Assert.Throws<ObjectDisposedException>(() => log.HandleWriteFault(Gpa, flush));
        Assert.Throws<ObjectDisposedException>(() => table.CreateDirtyLog());
    }
}
