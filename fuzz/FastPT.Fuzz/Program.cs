using FastPT.Fuzz;
using SharpFuzz;

// `FastPT.Fuzz TARGET`: serve TARGET to afl-fuzz (see fuzz/run.sh and docs/fuzzing.md).
// `FastPT.Fuzz TARGET FILE...`: run files through TARGET once each and say what happened (triage).
// `FastPT.Fuzz make-nettrace-seed FILE`: write the small real trace fuzz/seeds/nettrace starts from.
// `FastPT.Fuzz make-guest-tables-seeds DIR`: write the hand-made inputs fuzz/seeds/guest-tables starts from.
if (args is ["make-nettrace-seed", string seedPath])
{
    NettraceSeed.Write(seedPath);
    return 0;
}
if (args is ["make-guest-tables-seeds", string seedDir])
{
    GuestTablesSeeds.Write(seedDir);
    return 0;
}
if (args.Length == 0 || FuzzTargets.Find(args[0]) is not { } target)
{
    Console.Error.WriteLine("usage: FastPT.Fuzz TARGET [FILE...]; targets:");
    foreach (var t in FuzzTargets.All)
        Console.Error.WriteLine($"  {t.Name,-12} {t.Parses}");
    return 2;
}
if (args.Length == 1)
{
    // Out of process: a crash that takes the process down (stack overflow) is a finding, not the end of the campaign.
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target.Run(buffer.ToArray());
    });
    return 0;
}
int failed = 0;
foreach (string file in args.Skip(1))
{
    var clock = System.Diagnostics.Stopwatch.StartNew();
    try
    {
        target.Run(File.ReadAllBytes(file));
        Console.WriteLine($"ok    {clock.ElapsedMilliseconds,6} ms  {file}");
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"FAIL  {file}: {e}");
    }
}
return failed == 0 ? 0 : 1;
