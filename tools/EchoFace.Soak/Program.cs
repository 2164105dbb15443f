using System.CommandLine;
using System.Text.Json;
using EchoFace;
using EchoFace.Soak;
using Spectre.Console;

// echoface-soak: `dotnet run -c Release --project tools/EchoFace.Soak -- --minutes 30` (docs/benchmarks.md)
var minutes = new Option<double>("--minutes") { Description = "how long the daemon runs", DefaultValueFactory = _ => 30 };
var restart = new Option<double>("--broker-restart") { Description = "minutes between broker restarts (0: never)", DefaultValueFactory = _ => 5 };
var video = new Option<string?>("--video")
{
    Description = "the camera's video, looped (default: one made from ../shared/data photos: a member, an empty frame, a stranger)",
};
var every = new Option<double>("--sample") { Description = "seconds between samples (also the daemon's telemetry interval)", DefaultValueFactory = _ => 10 };
var report = new Option<string>("--report") { Description = "folder for soak.json, soak.png and the run's data", DefaultValueFactory = _ => "reports/soak" };
var echoface = new Option<string?>("--echoface") { Description = "the echoface binary or echoface.dll to soak (default: this repository's Release build)" };
var json = new Option<bool>("--json") { Description = "print the verdict as JSON" };
var root = new RootCommand("Run the door daemon for a long time on a looping video with the broker restarted on a schedule: RSS, open files, " +
    "threads and frame p95 over time (PNG), flat or not (exit 0) or not flat (exit 1)") { minutes, restart, video, every, report, echoface, json };
root.SetAction(p =>
{
    var settings = new SoakSettings(p.GetValue(minutes), p.GetValue(restart), p.GetValue(every), p.GetValue(report)!, p.GetValue(video));
    if (p.GetValue(echoface) is { } binary) settings = settings with { Echoface = Path.GetFullPath(binary) };
    var samples = (int)Math.Ceiling(settings.Minutes * 60 / settings.SampleSeconds);
    SoakVerdict verdict;
    IReadOnlyList<Sample> taken;
    try
    {
        (verdict, taken) = p.GetValue(json) || !AnsiConsole.Profile.Capabilities.Interactive
            ? SoakRun.Run(settings)
            : AnsiConsole.Progress().Start(c =>
            {
                var task = c.AddTask("soaking", maxValue: samples);
                return SoakRun.Run(settings, () => task.Increment(1));
            });
    }
    catch (Exception e) when (e is BadInputException or ToolException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return e is BadInputException ? 2 : 1;
    }
    var dir = Path.GetFullPath(settings.Report);
    if (p.GetValue(json))
    {
        Console.WriteLine(JsonSerializer.Serialize(new { report = dir, verdict }, SoakRun.Json));
        return verdict.Flat ? 0 : 1;
    }
    var table = new Table().AddColumns("measure", "first third", "last third", "change");
    foreach (var m in verdict.Measures) table.AddRow(m.Name, $"{m.First:F1}", $"{m.Last:F1}", m.Flat ? $"[green]{m.Change}[/]" : $"[red]{m.Change}[/]");
    AnsiConsole.Write(table);
    var (over, png) = (taken.LastOrDefault()?.Minutes ?? 0, Path.Combine(dir, "soak.png"));
    var pending = verdict.OutboxPendingAtEnd;
    AnsiConsole.MarkupLineInterpolated(
        $"{taken.Count} samples over {over:F1} minutes, broker restarted {verdict.BrokerRestarts} times, outbox pending {pending}; curves in {png}");
    return verdict.Flat ? 0 : 1;
});
return root.Parse(args).Invoke();
