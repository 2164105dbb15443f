using System.Diagnostics;
using System.Text.Json;
using EchoFace.Sync;
using EchoFace.Testing;
using ScottPlot;

namespace EchoFace.Soak;

/// <summary>What a soak run is asked for; the paths default to this repository's (README: set-up).</summary>
public sealed record SoakSettings(double Minutes, double BrokerRestartMinutes, double SampleSeconds, string Report, string? Video = null)
{
    /// <summary>The product as a device runs it: echoface.dll of the Release build (started with `dotnet`), or the published binary.</summary>
    public string Echoface { get; init; } = Path.Combine(Repository.Root, "src", "EchoFace.Cli", "bin", "Release", "net10.0", "echoface.dll");
    public string Models { get; init; } = Path.Combine(Repository.Root, "models");
    public string Photos { get; init; } = Path.GetFullPath(Path.Combine(Repository.Root, "..", "shared", "data", "faces", "photos"));
}

public sealed record Sample(double Minutes, double RssMiB, int Files, int Threads, double? FrameP95, double? Fps, long? OutboxPending, bool BrokerUp);

public sealed record Measure(string Name, double First, double Last, string Change, bool Flat);

public sealed record SoakVerdict(bool Flat, IReadOnlyList<Measure> Measures, int BrokerRestarts, long? OutboxPendingAtEnd);

/// <summary>
/// The soak benchmark: the door daemon on a looping video with its fleet link up, the broker restarted on a schedule, sampled
/// for memory, open files, threads and frame latency; the curves as a PNG and whether they stayed flat. It runs the real
/// `echoface run` and a real mosquitto as child processes, as a device would.
/// </summary>
public static class SoakRun
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Runs the soak and writes soak.json and soak.png into the report folder (emptied first).</summary>
    /// <param name="tick">called after each sample (progress)</param>
    public static (SoakVerdict Verdict, IReadOnlyList<Sample> Samples) Run(SoakSettings s, Action? tick = null)
    {
        if (s.Minutes is <= 0 or > 24 * 60) throw new BadInputException($"--minutes must be in (0, 1440], not {s.Minutes}");
        if (s.SampleSeconds is < 1 or > 600) throw new BadInputException($"--sample must be 1..600 s, not {s.SampleSeconds}");
        if (!File.Exists(s.Echoface)) throw new BadInputException($"{s.Echoface} not found: build the product first (README: set-up)");
        var dir = Path.GetFullPath(s.Report);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var clip = s.Video ?? MakeVideo(s, dir);
        if (!File.Exists(clip)) throw new BadInputException($"video not found: {clip}");
        var data = Path.Combine(dir, "data");
        Enrol(s, data);
        var (samples, restarts) = Sampled(s, dir, data, clip, tick ?? (() => { }));
        var verdict = Verdict(samples, restarts);
        File.WriteAllText(Path.Combine(dir, "soak.json"), JsonSerializer.Serialize(new { verdict, samples }, Json));
        Plot(samples, s.BrokerRestartMinutes, Path.Combine(dir, "soak.png"));
        return (verdict, samples);
    }

    /// <summary>The daemon and the broker as child processes; a sample every interval from /proc and the fleet telemetry.</summary>
    private static (List<Sample> Samples, int Restarts) Sampled(SoakSettings s, string dir, string data, string clip, Action tick)
    {
        var (length, every) = (TimeSpan.FromMinutes(s.Minutes), TimeSpan.FromSeconds(s.SampleSeconds));
        var restartEvery = TimeSpan.FromMinutes(s.BrokerRestartMinutes);
        using var broker = new Mosquitto(directory: Path.Combine(dir, "broker"));
        var (port, restarts) = (broker.Port, 0);
        var telemetry = new TelemetryWatch(port, every * 3);
        var env = new Dictionary<string, string>
        {
            ["ECHOFACE__Camera__Loop"] = "true", ["ECHOFACE__Fleet__Enabled"] = "true", ["ECHOFACE__Fleet__Broker"] = $"mqtt://127.0.0.1:{port}",
            ["ECHOFACE__Fleet__Site"] = "soak", ["ECHOFACE__Fleet__DeviceId"] = "door", ["ECHOFACE__Fleet__TelemetrySeconds"] = $"{every.TotalSeconds:F0}",
        };
        string[] run = ["run", "--data", data, "--camera", $"file:{clip}", "--door", "simulated", "--health", $"http://127.0.0.1:{FreePort.Next()}"];
        using var daemon = Echoface(s, run,
            Path.Combine(dir, "daemon.log"), env);
        var samples = new List<Sample>();
        var watch = Stopwatch.StartNew();
        var nextRestart = restartEvery > TimeSpan.Zero ? restartEvery : TimeSpan.MaxValue;
        try
        {
            while (watch.Elapsed < length)
            {
                Thread.Sleep(every);
                if (daemon.HasExited) throw new ToolException($"the daemon exited with {daemon.ExitCode} after {watch.Elapsed.TotalMinutes:F1} minutes (its log: {Path.Combine(dir, "daemon.log")})");
                if (watch.Elapsed >= nextRestart)
                {
                    broker.Stop();
                    restarts++;
                    Thread.Sleep(1000); // a second down, as a broker upgrade or a crash and restart would be
                    broker.Start();
                    nextRestart += restartEvery;
                }
                var t = telemetry.Latest();
                samples.Add(new Sample(Math.Round(watch.Elapsed.TotalMinutes, 2), (Evaluation.ProcessStatus.Field($"{daemon.Id}", "VmRSS") ?? 0) / 1024,
                    Directory.GetFiles($"/proc/{daemon.Id}/fd").Length, (int)(Evaluation.ProcessStatus.Field($"{daemon.Id}", "Threads") ?? 0), t?.P95, t?.Fps, t?.Pending, broker.Running));
                tick();
            }
        }
        finally
        {
            // whatever ended the run, the daemon stops as systemd would stop it, and is killed if it does not
            telemetry.Dispose();
            if (!daemon.HasExited)
            {
                Process.Start("kill", ["-TERM", $"{daemon.Id}"])!.WaitForExit();
                if (!daemon.WaitForExit(20_000)) daemon.Kill(entireProcessTree: true);
            }
        }
        return (samples, restarts);
    }

    /// <summary>
    /// Flat: the last third's median within 10% (RSS, frame p95) or 5 (files, threads) of the first third's, after a warm-up (the
    /// first sample holds start-up). A leak grows between the thirds; a spike in one sample does not move a median.
    /// </summary>
    private static SoakVerdict Verdict(IReadOnlyList<Sample> samples, int restarts)
    {
        var settled = samples.Skip(1).ToList();
        var third = Math.Max(1, settled.Count / 3);
        Measure M(string name, Func<Sample, double?> f, double relative, double absolute)
        {
            static double Median(IEnumerable<double> v) => v.Any() ? Evaluation.Percentiles.Of(v.ToArray(), 50) : double.NaN;
            var first = Median(settled.Take(third).Select(f).OfType<double>());
            var last = Median(settled.TakeLast(third).Select(f).OfType<double>());
            var flat = double.IsNaN(first) || double.IsNaN(last) || last - first <= Math.Max(relative * first, absolute);
            return new Measure(name, first, last, $"{last - first:+0.0;-0.0;0}", flat);
        }
        Measure[] measures =
        [
            M("RSS MiB", s => s.RssMiB, 0.10, 0), M("open files", s => s.Files, 0, 5), M("threads", s => s.Threads, 0, 5),
            M("frame p95 ms", s => s.FrameP95, 0.10, 2),
        ];
        return new SoakVerdict(measures.All(m => m.Flat), measures, restarts, samples.LastOrDefault(s => s.OutboxPending is not null)?.OutboxPending);
    }

    private static void Plot(IReadOnlyList<Sample> samples, double restartMinutes, string path)
    {
        var multi = new Multiplot();
        multi.AddPlots(4);
        var minutes = samples.Select(s => s.Minutes).ToArray();
        void Panel(int i, string label, double[] values)
        {
            var plot = multi.GetPlot(i);
            var line = plot.Add.ScatterLine(minutes, values);
            line.LineWidth = 2;
            if (restartMinutes > 0)
                for (var m = restartMinutes; m <= minutes.LastOrDefault(); m += restartMinutes)
                {
                    var v = plot.Add.VerticalLine(m);
                    v.LinePattern = LinePattern.Dashed;
                    v.Color = Colors.Gray;
                }
            plot.YLabel(label);
            plot.Axes.Bottom.Label.Text = "minutes (dashed: broker restarted)";
            plot.Axes.SetLimitsY(0, Math.Max(1, values.Where(double.IsFinite).DefaultIfEmpty(1).Max() * 1.2));
        }
        Panel(0, "RSS MiB", [.. samples.Select(s => s.RssMiB)]);
        Panel(1, "open files", [.. samples.Select(s => (double)s.Files)]);
        Panel(2, "threads", [.. samples.Select(s => (double)s.Threads)]);
        Panel(3, "frame p95 ms", [.. samples.Select(s => s.FrameP95 ?? double.NaN)]);
        multi.SavePng(path, 900, 1200);
    }

    /// <summary>echoface as a child (under `dotnet` when it is a dll), its output appended to <paramref name="log"/>.</summary>
    private static Process Echoface(SoakSettings s, string[] args, string log, IDictionary<string, string>? env = null)
    {
        var dll = s.Echoface.EndsWith(".dll", StringComparison.Ordinal);
        var start = new ProcessStartInfo(dll ? "dotnet" : s.Echoface) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (dll) start.ArgumentList.Add(s.Echoface);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.ArgumentList.Add("--models");
        start.ArgumentList.Add(s.Models);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) start.Environment[k] = v;
        var process = Process.Start(start) ?? throw new ToolException("could not start echoface");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (process) File.AppendAllText(log, e.Data + "\n"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (process) File.AppendAllText(log, e.Data + "\n"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Enrol(SoakSettings s, string data)
    {
        var member = Path.Combine(Shared(s), "df_angelina_jolie");
        using var enrol = Echoface(s, ["enroll", "member", "--data", data, Path.Combine(member, "img1.jpg"), Path.Combine(member, "img10.jpg")],
            Path.Combine(Path.GetDirectoryName(data)!, "enrol.log"));
        enrol.WaitForExit();
        if (enrol.ExitCode != 0) throw new ToolException($"enrolling the soak's member failed (exit {enrol.ExitCode})");
    }

    private static string Shared(SoakSettings s) => Directory.Exists(s.Photos)
        ? s.Photos
        : throw new BadInputException($"{s.Photos} not found: pass --video, or check out ../shared beside the repository");

    /// <summary>A member for 3 s, an empty frame for 2 s, a stranger for 3 s, at 640x480 and 15 fps (as deploy/demo.sh makes it).</summary>
    private static string MakeVideo(SoakSettings s, string dir)
    {
        var photos = Shared(s);
        var path = Path.Combine(dir, "door.mp4");
        string Frame(string name) => $"{EchoFace.Media.CameraFraming.Fill(640, 480).Replace("fill_", name)},setsar=1,fps=15";
        var run = EchoFace.Media.Ffmpeg.Run(["-v", "error", "-y", "-loop", "1", "-t", "3", "-i", Path.Combine(photos, "df_angelina_jolie", "img11.jpg"),
            "-f", "lavfi", "-t", "2", "-i", "color=black:s=640x480:r=15", "-loop", "1", "-t", "3", "-i", Path.Combine(photos, "df_jeff_bezos", "img20.jpg"),
            "-filter_complex", $"[0]{Frame("a_")}[a];[1]setsar=1,format=yuv420p[g];[2]{Frame("b_")}[b];[a][g][b]concat=n=3:v=1[v]", "-map", "[v]",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", path], 1 << 20, TimeSpan.FromMinutes(2));
        if (run.ExitCode != 0) throw new ToolException($"ffmpeg could not make the soak video: {run.Errors}");
        return path;
    }

    /// <summary>The fleet's view: the daemon's telemetry (frame p95, fps, outbox), reconnecting after every broker restart.</summary>
    private sealed class TelemetryWatch : IDisposable
    {
        public sealed record Reading(double? P95, double? Fps, long? Pending);

        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private Reading? _latest;

        /// <param name="silence">no telemetry for this long means the connection died with the broker: connect again.</param>
        public TelemetryWatch(int port, TimeSpan silence)
        {
            var options = new FleetOptions { Enabled = true, Broker = $"mqtt://127.0.0.1:{port}", Site = "soak", DeviceId = "watch" };
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        await using var client = await FleetClient.ConnectAsync(options, _stop.Token);
                        await client.SubscribeAsync("echoface/soak/door/telemetry", _stop.Token);
                        while (true)
                        {
                            using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                            wait.CancelAfter(silence);
                            var m = await client.Messages.ReadAsync(wait.Token);
                            var frame = m.Payload.TryGetProperty("frameMs", out var f) && f.ValueKind == JsonValueKind.Object ? f.GetProperty("p95").GetDouble() : (double?)null;
                            _latest = new Reading(frame, m.Payload.GetProperty("fps").GetDouble(), m.Payload.GetProperty("outboxPending").GetInt64());
                        }
                    }
                    catch (Exception e) when (e is ToolException or OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException) { }
                    try { await Task.Delay(500, _stop.Token); } catch (OperationCanceledException) { }
                }
            });
        }

        public Reading? Latest() => _latest;

        public void Dispose()
        {
            _stop.Cancel();
            try { _loop.Wait(5000); } catch (AggregateException) { }
        }
    }
}
