using FastPT.Scenarios.Backends;
using FastPT.Scenarios.Language;
using FastPT.Kernels;

namespace FastPT.Scenarios.Tests.Language;

public sealed class ParserTests
{
    private static ScriptError Error(string text)
    {
        var script = Script.Parse(text);
        Assert.NotNull(script.Error);
        return script.Error!;
    }

    private static T Single<T>(string text) where T : Statement
    {
        var script = Script.Parse(text);
        Assert.Null(script.Error);
        return Assert.IsType<T>(script.Statements[^1]);
    }

    [Theory]
    // malformed or unknown statements
    [InlineData("region f file 8\nfrobnicate f:0", 2, "unknown statement 'frobnicate'")]
    [InlineData("region f file 8\nwrite", 2, "'write' takes 1 operand")]
    [InlineData("region f file 8\nwrite f:0 f:1", 2, "'write' takes 1 operand")]
    [InlineData("region f file 8\nprotect f:0", 2, "'protect' takes 2 operands")]
    [InlineData("region f file 8\nprotect f:0 rwx", 2, "unknown protection 'rwx'")]
    [InlineData("region f file", 1, "region needs a name, a kind and a size")]
    [InlineData("region 9f file 8", 1, "bad region name '9f'")]
    [InlineData("region f shmem 8", 1, "unknown region kind 'shmem'")]
    [InlineData("region f file 0", 1, "has 0 pages")]
    [InlineData("region f file 8 thp", 1, "unknown option 'thp' for a file region")]
    [InlineData("region f file 8 unpopulated", 1, "unknown option 'unpopulated' for a file region")]
    [InlineData("region f anon 8 huge", 1, "unknown option 'huge' for an anon region")]
    [InlineData("region f anon 8 wp thp wp", 1, "region option 'wp' given twice")]
    [InlineData("region f file 8\nwrite f:x", 2, "bad number 'x'")]
    [InlineData("region f file 8\nwrite f:0x", 2, "bad number '0x'")]
    [InlineData("region f file 8\nwrite f:-1", 2, "bad number '-1'")]
    [InlineData("region f file 8\nwrite f:1+", 2, "missing number for page count")]
    [InlineData("region f file 8\nwrite f", 2, "got the bare region name 'f'")]
    [InlineData("region f file 8\nwrite 3", 2, "malformed page range '3'")]
    [InlineData("region f file 99999999999999", 1, "number '99999999999999' for region size is too large")]
    // unknown region, range outside, count 0
    [InlineData("region f file 8\nread g:0", 2, "unknown region 'g'")]
    [InlineData("write f:0\nregion f file 8", 1, "unknown region 'f'")]
    [InlineData("region f file 8\nunregister g", 2, "unknown region 'g'")]
    [InlineData("region f file 8\npagemap g", 2, "unknown region 'g'")]
    [InlineData("region f file 8\nread f:8", 2, "outside region 'f', which has 8 pages (0..7)")]
    [InlineData("region f file 8\nread f:7+2", 2, "outside region 'f'")]
    [InlineData("region f file 8\nread f:3+0", 2, "page count of 0")]
    [InlineData("region f file 8\nunregister f:0", 2, "unregister takes a bare region name")]
    // duplicate region
    [InlineData("region f file 8\nregion f anon 8", 2, "region 'f' is already defined")]
    // wp/unwp on a region that is not registered
    [InlineData("region f file 8\nwp f:0", 2, "wp on region 'f', which is not registered")]
    [InlineData("region f file 8\nunwp f:0", 2, "unwp on region 'f', which is not registered")]
    [InlineData("region f file 8 wp\nunregister f\nwp f:0", 3, "wp on region 'f', which is not registered")]
    [InlineData("region f file 8 wp\nunregister f\nunwp f:0+8", 3, "unwp on region 'f', which is not registered")]
    // scan
    [InlineData("region f file 8\nscan f:0 mask=writen", 2, "unknown scan category 'writen'")]
    [InlineData("region f file 8\nscan f:0 mask=", 2, "empty category list")]
    [InlineData("region f file 8\nscan f:0 return=written,", 2, "empty category name")]
    [InlineData("region f file 8\nscan f:0 anyof", 2, "needs categories")]
    [InlineData("region f file 8\nscan f:0 max=0", 2, "max=0 is not allowed")]
    [InlineData("region f file 8\nscan f:0 max=", 2, "max needs a page count")]
    [InlineData("region f file 8\nscan f:0 max=1 max=2", 2, "scan option 'max' given twice")]
    [InlineData("region f file 8\nscan f:0 mask=file mask=present", 2, "scan option 'mask' given twice")]
    [InlineData("region f file 8\nscan f:0 inverted=file inverted=file", 2, "scan option 'inverted' given twice")]
    [InlineData("region f file 8\nscan f:0 wp wp", 2, "scan option 'wp' given twice")]
    [InlineData("region f file 8\nscan f:0 fast", 2, "unknown scan option 'fast'")]
    [InlineData("region f file 8\nscan f", 2, "not the bare region name 'f'")]
    [InlineData("region f file 8\nscan", 2, "scan needs a page range")]
    public void Bad_input_is_reported_at_its_line(string text, int line, string what)
    {
        var error = Error(text);
        Assert.Equal(line, error.Line);
        Assert.Contains(what, error.Message);
        Assert.StartsWith($"error: line {line}: ", error.ToString());
    }

    [Fact]
    public void Statements_before_the_error_are_kept_and_after_are_dropped()
    {
        var script = Script.Parse("region f file 8\n\n# c\nwrite f:0\nbogus\nwrite f:1\n");
        Assert.Equal(2, script.Statements.Count);
        Assert.Equal(new ScriptError(5, "unknown statement 'bogus' (expected region, write, read, zap, wp, unwp, protect, unregister, scan or pagemap)"), script.Error);
    }

    [Fact]
    public void Numbers_are_decimal_with_leading_zeros_or_hex()
    {
        var a = Single<AccessStatement>("region f file 300\nwrite f:010+0x1F");
        Assert.Equal(new PageRange("f", 10, 31), a.Range);
        var c = Single<AccessStatement>("region f file 300\nread f:0x12B");
        Assert.Equal(new PageRange("f", 299, 1), c.Range);
    }

    [Fact]
    public void Uppercase_0X_is_not_hex()
    {
        Assert.Contains("bad number '0X1'", Error("region f file 300\nread f:0X1").Message);
    }

    [Fact]
    public void Comments_tabs_and_CRLF_are_ignored_and_echo_joins_tokens()
    {
        var p = Single<PagemapStatement>("region f file 0x20 # c\r\n\t pagemap \t f:0x1c+2#x\r\n");
        Assert.Equal("pagemap f:0x1c+2", p.Echo);
        Assert.Equal(new PageRange("f", 28, 2), p.Range);
        var s = Single<ScanStatement>("region f file 16\nscan   f:0+16\twp  max=3 return=written,present   # c");
        Assert.Equal("scan f:0+16 wp max=3 return=written,present", s.Echo);
        Assert.Equal(new ScanRequest(true, PageCategories.None, PageCategories.None, PageCategories.None,
            PageCategories.Written | PageCategories.Present, 3), s.Request);
    }

    [Fact]
    public void Pagemap_of_a_bare_name_covers_the_region_and_echoes_the_name()
    {
        var p = Single<PagemapStatement>("region f anon 7\npagemap f");
        Assert.Equal(new PageRange("f", 0, 7), p.Range);
        Assert.Equal("pagemap f", p.Echo);
    }

    [Fact]
    public void Scan_defaults_and_every_category_name()
    {
        var s = Single<ScanStatement>("region f file 4\nscan f:0");
        Assert.Equal(new ScanRequest(false, 0, 0, 0, PageCategories.All, 0), s.Request);
        var all = Single<ScanStatement>("region f file 4\nscan f:0 mask=wpallowed,written,file,present,swapped,pfnzero,huge,soft-dirty,guard,file");
        Assert.Equal(PageCategories.All, all.Request.Mask);
        var o = Single<ScanStatement>("region f file 4\nscan f:0+4 max=2 inverted=written anyof=huge,pfnzero mask=present");
        Assert.Equal(PageCategories.Written, o.Request.Inverted);
        Assert.Equal(PageCategories.Huge | PageCategories.PfnZero, o.Request.AnyOf);
        Assert.Equal(PageCategories.Present, o.Request.Mask);
        Assert.Equal(2, o.Request.MaxPages);
    }

    [Fact]
    public void Region_options_in_any_order_and_script_wide_features()
    {
        var r = Single<RegionStatement>("region a anon 8 thp async unpopulated wp");
        Assert.True(r.Wp && r.Thp && r.Async && r.Unpopulated);
        Assert.Equal(new UffdFeatures(false, false), Script.Parse("region a anon 8 wp").Features);
        Assert.Equal(new UffdFeatures(true, false), Script.Parse("region a anon 8 wp\nregion b anon 8 unpopulated").Features);
        Assert.Equal(new UffdFeatures(true, true), Script.Parse("region a file 8 async").Features);
        // Regions after the first bad line never run, so they add no features.
        Assert.Equal(new UffdFeatures(false, false), Script.Parse("region a anon 8 wp\nbad\nregion b anon 8 async").Features);
    }

    [Fact]
    public void Unregister_of_an_unregistered_region_is_valid_and_ends_registration()
    {
        var script = Script.Parse("region f file 8\nunregister f\nregion g file 8 wp\nunregister g\nunregister g");
        Assert.Null(script.Error);
        Assert.Equal(5, script.Statements.Count);
    }
}
