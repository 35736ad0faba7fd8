using System.CommandLine;
using System.Globalization;
using FastPT.Results;
using FastPT.Results.Compare;
using FastPT.Results.History;
using FastPT.Results.Model;

namespace FastPT.Cli.Commands.Results;

/// <summary>
/// What compare, history, report and export share: the statistics options and the history
/// lookup. Exit codes (0 no regression, 1 a regression, 2 bad input) and error lines are the
/// CLI's (<see cref="ExitCodes"/>, <see cref="CliErrors"/>).
/// </summary>
internal static class ResultsCli
{
    public static readonly Option<string> Threshold = new("--threshold")
    {
        Description = $"Relative change that matters, as 10% or 0.10 (default {ComparisonOptions.DefaultThreshold:P0})",
    };

    public static readonly Option<double?> Noise = new("--noise")
    {
        Description = $"Absolute noise floor in each operation's unit (ns/page...): smaller time shifts are 'same' (default {ComparisonOptions.DefaultNoiseFloor.ToString(CultureInfo.InvariantCulture)})",
    };

    public static readonly Option<double?> Alpha = new("--alpha")
    {
        Description = $"Significance level of the Mann-Whitney tests (default {ComparisonOptions.DefaultAlpha.ToString(CultureInfo.InvariantCulture)})",
    };

    public static readonly Option<string> Gate = new("--gate")
    {
        Description = "Which figure decides a regression: auto (the paired ratio to the bare pass where an op has one, else its time) or time",
        DefaultValueFactory = _ => "auto",
    };

    public static readonly Option<string> HistoryDir = new("--history")
    {
        Description = "The history folder (default perf/history)",
        DefaultValueFactory = _ => Path.Combine("perf", "history"),
    };

    public static readonly Option<string?> Cpu = new("--cpu")
    {
        Description = "Which machine's history (a file name in the history folder without .jsonl); default: the only one, or this machine's",
    };

    public static ComparisonOptions Options(ParseResult parse)
    {
        var o = new ComparisonOptions();
        if (parse.GetValue(Threshold) is string t)
            o = o with { Threshold = ParseThreshold(t) };
        if (parse.GetValue(Noise) is double n)
            o = o with { NoiseFloor = n >= 0 && double.IsFinite(n) ? n : throw new CliInputException($"--noise {n}: must be 0 or more") };
        if (parse.GetValue(Alpha) is double a)
            o = o with { Alpha = a is > 0 and < 0.5 ? a : throw new CliInputException($"--alpha {a}: must be between 0 and 0.5") };
        o = o with
        {
            Gate = parse.GetValue(Gate) switch
            {
                "auto" or null => GateFigure.Auto,
                "time" => GateFigure.Time,
                var g => throw new CliInputException($"--gate {g}: use auto or time"),
            },
        };
        return o;
    }

    public static double ParseThreshold(string s)
    {
        string v = s.Trim();
        bool percent = v.EndsWith('%');
        if (!double.TryParse(percent ? v[..^1] : v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !double.IsFinite(d))
            throw new CliInputException($"--threshold {s}: not a number; write 10% or 0.10");
        d = percent ? d / 100 : d;
        return d is >= 0 and < 10 ? d : throw new CliInputException($"--threshold {s}: use 0% to 1000%");
    }

    /// <summary>The history of one machine: --cpu, else the only one in the folder, else this machine's.</summary>
    public static (HistoryStore Store, string Key) History(ParseResult parse)
    {
        var store = new HistoryStore(parse.GetValue(HistoryDir)!);
        var keys = store.Keys();
        if (parse.GetValue(Cpu) is string key)
            return keys.Contains(key) ? (store, key) : throw new CliInputException($"--cpu {key}: no {store.PathFor(key)}; histories there: {string.Join(", ", keys.DefaultIfEmpty("none"))}");
        if (keys.Count == 1)
            return (store, keys[0]);
        string here = RunEnvironment.HistoryKey(EnvironmentProbe.Capture(null, sourceDirectory: Environment.CurrentDirectory).CpuModel, Environment.ProcessorCount);
        if (keys.Contains(here))
            return (store, here);
        throw new CliInputException(keys.Count == 0
            ? $"no history in {store.Directory} (run from the repository root, or pass --history DIR; add runs with `fastpt history add`)"
            : $"{store.Directory} holds several machines' histories ({string.Join(", ", keys)}); choose one with --cpu");
    }

    /// <summary>Writes the command's main output to --out (whole, via a temporary file) or stdout.</summary>
    public static void Write(string? outPath, string text)
    {
        if (outPath == null)
        {
            Console.Write(text);
            return;
        }
        AtomicFile.Write(outPath, temp =>
        {
            File.WriteAllText(temp, text);
            return 0;
        });
    }
}
