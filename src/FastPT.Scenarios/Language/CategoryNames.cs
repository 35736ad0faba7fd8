using System.Text;
using FastPT.Scenarios.Backends;
using FastPT.Kernels;

namespace FastPT.Scenarios.Language;

/// <summary>The scan category names, in the ioctl's bit order.</summary>
public static class CategoryNames
{
    public static readonly IReadOnlyList<string> All =
        ["wpallowed", "written", "file", "present", "swapped", "pfnzero", "huge", "soft-dirty", "guard"];

    public static PageCategories? Parse(string name)
    {
        for (int i = 0; i < All.Count; i++)
        {
            if (All[i] == name)
                return (PageCategories)(1UL << i);
        }
        return null;
    }

    /// <summary>Names joined by '|' in bit order, or "-" for none.</summary>
    public static string Format(PageCategories categories)
    {
        if (categories == PageCategories.None)
            return "-";
        var sb = new StringBuilder();
        for (int i = 0; i < All.Count; i++)
        {
            if (((ulong)categories & (1UL << i)) != 0)
            {
                if (sb.Length > 0)
                    sb.Append('|');
                sb.Append(All[i]);
            }
        }
        return sb.ToString();
    }
}
