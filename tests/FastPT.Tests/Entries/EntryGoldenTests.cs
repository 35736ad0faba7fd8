using FastPT.Entries;
using Xunit;

namespace FastPT.Tests.Entries;

/// <summary>Runs every line of Data/entries.golden.txt against the entry functions.</summary>
public class EntryGoldenTests
{
    private const string FileName = "entries.golden.txt";

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (GoldenCase c in GoldenFile.Read(FileName))
            data.Add(c.ToString());
        return data;
    }

    [Fact]
    public void FileHasTheWorkedValues()
    {
        var cases = GoldenFile.Read(FileName).ToList();
        Assert.True(cases.Count > 100, $"only {cases.Count} golden cases");
        // The headline values of the fact sheet must be present, not silently dropped.
        foreach (string v in new[] { "0xFFFF_FFFF_FFFF_FC00", "0x07FF_FFFF_FFDB_9600", "0x000F_FFFF_FEDC_B120", "0x8400_0000_1234_5425" })
            Assert.Contains(cases, c => c.Expected == v);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GoldenCase(string display)
    {
        GoldenCase c = GoldenFile.Read(FileName).Single(x => x.ToString() == display);
        string actual = Evaluate(c);
        Assert.True(Normalize(c.Expected) == Normalize(actual), $"{c}: got {actual}");
    }

    private static string Normalize(string s) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || char.IsDigit(s[0]) || s[0] == '-'
            ? GoldenFile.ParseULong(s).ToString("X", System.Globalization.CultureInfo.InvariantCulture)
            : s.ToLowerInvariant();

    private static string Hex(ulong v) => "0x" + v.ToString("X", System.Globalization.CultureInfo.InvariantCulture);

    private static string Bool(bool b) => b ? "true" : "false";

    private static string Evaluate(GoldenCase c)
    {
        ulong A(int i) => GoldenFile.ParseULong(c.Args[i]);
        try
        {
            return c.Function switch
            {
                "const" => Hex(Constant(c.Args[0])),
                "make_marker" => Hex(PteMarker.Make(A(0))),
                "make_swap" => Hex(SwapEntry.Make((int)GoldenFile.ParseLong(c.Args[0]), A(1))),
                "swap_type" => SwapEntry.Type(A(0)).ToString(System.Globalization.CultureInfo.InvariantCulture),
                "swap_offset" => Hex(SwapEntry.Offset(A(0))),
                "classify" => LinuxPte.Classify(A(0)).ToString().ToLowerInvariant(),
                "pte_none" => Bool(LinuxPte.IsNone(A(0))),
                "pte_present" => Bool(LinuxPte.IsPresent(A(0))),
                "pmd_present" => Bool(LinuxPte.IsPmdPresent(A(0))),
                "pte_protnone" => Bool(LinuxPte.IsProtNone(A(0))),
                "is_swap_pte" => Bool(LinuxPte.IsSwap(A(0))),
                "is_marker" => Bool(PteMarker.IsMarker(A(0))),
                "is_uffd_wp_marker" => Bool(PteMarker.IsUffdWp(A(0))),
                "is_poisoned_marker" => Bool(PteMarker.IsPoisoned(A(0))),
                "is_guard_marker" => Bool(PteMarker.IsGuard(A(0))),
                "swp_uffd_wp_any" => Bool(LinuxPte.IsSwapUffdWpAny(A(0))),
                "pte_dirty" => Bool(LinuxPte.IsDirty(A(0))),
                "pte_write" => Bool(LinuxPte.IsWritable(A(0))),
                "pte_uffd_wp" => Bool(LinuxPte.IsUffdWp(A(0))),
                "pfn_pte" => Hex(L1tf.PfnEntry(A(0), A(1))),
                "pte_pfn" => Hex(L1tf.Pfn(A(0))),
                "pte_modify" => Hex(LinuxPte.Modify(A(0), A(1))),
                "pmd_modify" => Hex(LinuxPte.ModifyHuge(A(0), A(1))),
                "pud_modify" => Hex(LinuxPte.ModifyPud(A(0), A(1))),
                "pte_wrprotect" => Hex(LinuxPte.Wrprotect(A(0))),
                "pte_mkwrite" => Hex(LinuxPte.MkWrite(A(0))),
                "pte_mkdirty" => Hex(LinuxPte.MkDirty(A(0))),
                "pte_mkclean" => Hex(LinuxPte.MkClean(A(0))),
                "pte_mkyoung" => Hex(LinuxPte.MkYoung(A(0))),
                "pte_mkuffd_wp" => Hex(LinuxPte.MkUffdWp(A(0))),
                "pte_clear_uffd_wp" => Hex(LinuxPte.ClearUffdWp(A(0))),
                _ => throw new FormatException($"{c}: unknown function '{c.Function}'"),
            };
        }
        catch (ArgumentException)
        {
            return "error";
        }
    }

    private static ulong Constant(string name) => name switch
    {
        "PAGE_NONE" => PgProt.None,
        "PAGE_SHARED" => PgProt.Shared,
        "PAGE_SHARED_EXEC" => PgProt.SharedExec,
        "PAGE_READONLY" => PgProt.ReadOnly,
        "PAGE_COPY" => PgProt.Copy,
        "PAGE_READONLY_EXEC" => PgProt.ReadOnlyExec,
        "PAGE_COPY_EXEC" => PgProt.CopyExec,
        "_PAGE_TABLE" => PgProt.Table,
        "_KERNPG_TABLE" => PgProt.KernelTable,
        "_PAGE_CHG_MASK" => PgProt.ChangeMask,
        "~_PAGE_CHG_MASK" => ~PgProt.ChangeMask,
        "_HPAGE_CHG_MASK" => PgProt.HugeChangeMask,
        "PTE_PFN_MASK" => Pte.PfnMask,
        "PHYSICAL_PMD_PAGE_MASK" => Pte.Pfn2MMask,
        "PHYSICAL_PUD_PAGE_MASK" => Pte.Pfn1GMask,
        "_PAGE_PROTNONE" => Pte.ProtNone,
        "_PAGE_SPECIAL" => Pte.Special,
        "_PAGE_UFFD_WP" => Pte.UffdWp,
        "_PAGE_SOFT_DIRTY" => Pte.SoftDirty,
        "_PAGE_SAVED_DIRTY" => Pte.SavedDirty,
        "_PAGE_DEVMAP" => Pte.DevMap,
        "_PAGE_SWP_SOFT_DIRTY" => SwapEntry.SoftDirty,
        "_PAGE_SWP_UFFD_WP" => SwapEntry.UffdWp,
        "_PAGE_SWP_EXCLUSIVE" => SwapEntry.Exclusive,
        "_PAGE_KNL_ERRATUM_MASK" => Pte.KnlErratumMask,
        "SWP_PTE_MARKER" => (ulong)PteMarker.SwapType,
        "PTE_MARKER_UFFD_WP_VALUE" => PteMarker.UffdWp,
        "PTE_MARKER_POISONED_VALUE" => PteMarker.Poisoned,
        "PTE_MARKER_GUARD_VALUE" => PteMarker.Guard,
        _ => throw new FormatException($"unknown constant '{name}'"),
    };
}
