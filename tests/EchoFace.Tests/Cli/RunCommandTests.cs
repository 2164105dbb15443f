using System.Diagnostics;
using System.Text.Json;
using EchoFace.Media;
using EchoFace.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace EchoFace.Tests.Cli;

/// <summary>`echoface run` end to end on videos made from the shared photos, the simulated door and the real models.</summary>
[Trait("Category", "Integration")]
public class RunCommandTests
{
    private readonly CliRunner _cli = new();
    private readonly string _dir = TestEnvironment.TempDirectory();
    private static string[] Jolie => CliRunner.Photos("df_angelina_jolie");

    private List<JsonElement> Run(string camera, params string[] extra)
    {
        var r = _cli.Run(["run", "--camera", $"file:{camera}", "--once", "--door", "simulated", "--health", "http://127.0.0.1:0", "--json", .. extra]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return [.. r.Json.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("payload"))];
    }

    private static List<JsonElement> Decisions(List<JsonElement> events) => [.. events.Where(e => e.TryGetProperty("outcome", out _))];

    private string Config(object settings)
    {
        var path = Path.Combine(_dir, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(settings));
        return path;
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void An_enrolled_person_unlocks_the_door_once_and_a_stranger_is_denied()
    {
        Assert.Equal(0, _cli.Run("enroll", "jolie", "--name", "Angelina Jolie", Jolie[0], Jolie[1]).ExitCode);
        var video = TestEnvironment.Video(Path.Combine(_dir, "jolie.mp4"), 2, 2, Jolie[2], Jolie[3]);
        var decisions = Decisions(Run(video));
        // two photos with a gap, two presences: the second is within the re-entry time
        var granted = Assert.Single(decisions, d => true);
        Assert.True(decisions.Count == 1, string.Join("\n", decisions));
        Assert.Equal("granted", granted.GetProperty("outcome").GetString());
        Assert.Equal("jolie", granted.GetProperty("identity").GetString());
        Assert.Equal("face+liveness", granted.GetProperty("policy").GetString());
        Assert.True(granted.GetProperty("faceScore").GetSingle() >= granted.GetProperty("faceThreshold").GetSingle());
        Assert.Equal("fr_feature", granted.GetProperty("models").GetProperty("embedder").GetString());
        // the picture behind the decision: the presence's best frame, boxed and labelled, with the aligned crop below it
        var snapshot = Path.Combine(_dir, "granted.jpg");
        var export = _cli.Run("snapshots", "export", granted.GetProperty("snapshot").GetString()!, snapshot);
        Assert.True(export.ExitCode == 0, export.Stderr);
        var picture = ImageDecoder.DecodeFile(snapshot);
        Assert.True(picture.Width == 640 && picture.Height > 480, $"{picture.Width}x{picture.Height}");
        Assert.Equal(2, _cli.Run("snapshots", "export", "../template.key", snapshot).ExitCode);

        var stranger = TestEnvironment.Video(Path.Combine(_dir, "bezos.mp4"), 2, 0, CliRunner.Photos("df_jeff_bezos")[0]);
        var denied = Assert.Single(Decisions(Run(stranger)));
        Assert.Equal("denied", denied.GetProperty("outcome").GetString());
        Assert.Equal("unknown_face", denied.GetProperty("reason").GetString());
        Assert.Contains(denied.GetProperty("snapshot").GetString()!, _cli.Run("snapshots", "list", "--json").Json.EnumerateArray().Select(n => n.GetString()));
    }

    private string NuaaVideo(string label, string subject, int count) =>
        TestEnvironment.NuaaVideo(Path.Combine(_dir, $"{label}-{subject}.mp4"), label, subject, count)
        ?? throw new InvalidOperationException($"NUAA has no {label} test frames of subject {subject}");

    [Trait("Category", "Slow")]
    [Fact]
    public void A_printed_photo_of_an_enrolled_person_does_not_open_the_door_and_the_person_does()
    {
        var root = TestEnvironment.Data("faces", "nuaa-subset");
        var enrol = File.ReadLines(Path.Combine(root, "manifest.csv")).Select(l => l.Split(','))
            .Where(f => f[1] == "live" && f[2] == "0007" && f[6] == "train").Select(f => Path.Combine(root, f[0])).Order(StringComparer.Ordinal).Take(2);
        Assert.Equal(0, _cli.Run(["enroll", "subject-7", "--face", "0", .. enrol]).ExitCode);

        var attack = Assert.Single(Decisions(Run(NuaaVideo("spoof", "0007", 30))));
        Assert.Equal("denied", attack.GetProperty("outcome").GetString());
        Assert.Equal("liveness_failed", attack.GetProperty("reason").GetString());
        Assert.Equal("subject-7", attack.GetProperty("identity").GetString()); // the face matched: only liveness stopped it

        var person = Assert.Single(Decisions(Run(NuaaVideo("live", "0007", 30))));
        Assert.Equal("granted", person.GetProperty("outcome").GetString());
        Assert.True(person.GetProperty("liveness").GetSingle() >= person.GetProperty("livenessThreshold").GetSingle());
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void A_phone_replay_of_an_enrolled_person_does_not_open_the_door_and_the_person_does()
    {
        var root = TestEnvironment.Data("faces", "replay-a", "live", "p");
        Assert.Equal(0, _cli.Run("enroll", "replay-person", "--face", "0", Path.Combine(root, "0.png"), Path.Combine(root, "20.png")).ExitCode);

        foreach (var first in new[] { 21, 201, 401 })
        {
            var video = TestEnvironment.ReplayVideo(Path.Combine(_dir, $"replay-{first}.mp4"), "spoof/replay", first, 20);
            var replay = Assert.Single(Decisions(Run(video)));
            Assert.Equal("denied", replay.GetProperty("outcome").GetString());
            Assert.Equal("liveness_failed", replay.GetProperty("reason").GetString());
            Assert.Equal("replay-person", replay.GetProperty("identity").GetString()); // the face on the screen matched: only liveness stopped it
        }

        var person = Assert.Single(Decisions(Run(TestEnvironment.ReplayVideo(Path.Combine(_dir, "live.mp4"), "live/p", 100, 20))));
        Assert.Equal("granted", person.GetProperty("outcome").GetString());
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Repeated_denials_engage_the_lockout_alarm()
    {
        var video = TestEnvironment.Video(Path.Combine(_dir, "strangers.mp4"), 2, 2,
            CliRunner.Photos("df_jeff_bezos")[0], CliRunner.Photos("df_elon_musk")[0], CliRunner.Photos("df_katy_perry")[0]);
        var config = Config(new { Access = new { MaxFailures = 2, LockoutSeconds = 60 } });
        var events = Run(video, "--config", config);
        Assert.True(Decisions(events).Count >= 2, string.Join("\n", events));
        Assert.Contains(events, e => e.TryGetProperty("type", out var t) && t.GetString() == "lockout");
        Assert.Equal("locked_out", Decisions(events)[^1].GetProperty("reason").GetString());
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void The_voice_step_up_accepts_the_right_speaker_and_rejects_another()
    {
        Assert.Equal(0, _cli.Run("enroll", "jolie", Jolie[0], Jolie[1]).ExitCode);
        Assert.Equal(0, _cli.Run(["voice", "enroll", "jolie", .. TestEnvironment.Speech("1688")[..3]]).ExitCode);
        var video = TestEnvironment.Video(Path.Combine(_dir, "jolie.mp4"), 2, 0, Jolie[2]);

        var right = Decisions(Run(video, "--policy", "face+voice", "--microphone", $"file:{TestEnvironment.Speech("1688")[5]}"));
        var accepted = Assert.Single(right);
        Assert.Equal("granted", accepted.GetProperty("outcome").GetString());
        Assert.True(accepted.GetProperty("voiceScore").GetSingle() >= accepted.GetProperty("voiceThreshold").GetSingle());

        var wrong = Decisions(Run(video, "--policy", "face+voice", "--microphone", $"file:{TestEnvironment.Speech("1998")[5]}"));
        var rejected = Assert.Single(wrong);
        Assert.Equal("denied", rejected.GetProperty("outcome").GetString());
        Assert.Equal("voice_rejected", rejected.GetProperty("reason").GetString());
    }

    [Fact]
    public void Bad_sources_and_settings_exit_2_naming_what_is_wrong()
    {
        var missing = _cli.Run("run", "--camera", $"file:{Path.Combine(_dir, "nope.mp4")}", "--once", "--door", "simulated", "--health", "http://127.0.0.1:0");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("camera file not found", missing.Stderr);
        var bogus = _cli.Run("run", "--camera", "webcam", "--once");
        Assert.Equal(2, bogus.ExitCode);
        Assert.Contains("Camera.Source 'webcam'", bogus.Stderr);
        Assert.Equal(2, _cli.Run("run", "--policy", "face+iris", "--once").ExitCode);
    }

    [Fact]
    public async Task The_camera_source_restarts_after_its_ffmpeg_is_killed()
    {
        var video = TestEnvironment.Video(Path.Combine(_dir, "loop.mp4"), 3, 0, Jolie[2]);
        var camera = new CameraSource(new CameraOptions { Source = $"file:{video}", RestartMinSeconds = 0.2 }, NullLogger.Instance);
        var faults = new List<string>();
        camera.Fault += faults.Add;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = camera.RunAsync(once: false, stop.Token);
        var frames = 0;
        var killed = 0;
        _ = Task.Run(async () =>
        {
            await foreach (var f in camera.Frames.ReadAllAsync()) { camera.Return(f); Interlocked.Increment(ref frames); }
        });
        await Eventually.TrueAsync(() => Volatile.Read(ref frames) > 5 && camera.ProcessId is { } pid && (killed = pid) > 0, "frames from the camera's ffmpeg");
        var restartsAtKill = camera.Restarts;
        Process.GetProcessById(killed).Kill();
        await Eventually.TrueAsync(() => camera.ProcessId is { } now && now != killed && camera.Captured > 0 && faults.Count > 0,
            "a new ffmpeg capturing after the kill, and the fault reported", TimeSpan.FromSeconds(30));
        var framesBefore = Volatile.Read(ref frames);
        await Eventually.TrueAsync(() => Volatile.Read(ref frames) > framesBefore, "frames flowing again after the restart", TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(faults, f => f.Contains("stopped after"));
        Assert.True(camera.Restarts > restartsAtKill);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Sigterm_stops_the_daemon_cleanly_with_every_event_stored_and_health_and_metrics_answer()
    {
        var port = FreePort.Next();
        Assert.Equal(0, _cli.Run("enroll", "jolie", Jolie[0], Jolie[1]).ExitCode);
        var video = TestEnvironment.Video(Path.Combine(_dir, "long.mp4"), 6, 0, Jolie[2], Jolie[3]);
        using var daemon = new DaemonProcess(null, _cli.DataDirectory, "door-1", camera: $"file:{video}", health: $"http://127.0.0.1:{port}");
        daemon.WaitFor("Access granted", "no decision within 60 s");
        using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") })
        {
            var health = JsonDocument.Parse(await http.GetStringAsync("/healthz")).RootElement;
            Assert.Equal("ok", health.GetProperty("status").GetString());
            Assert.True(health.GetProperty("granted").GetInt64() >= 1);
            Assert.True(health.GetProperty("readyMs").GetDouble() > 0);
            var metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("echoface_frames_total", metrics);
            Assert.Contains("echoface_decisions_total{outcome=\"granted\",reason=\"face match\"} 1", metrics);
            Assert.Contains("echoface_frame_to_decision_ms_bucket", metrics);
            Assert.Contains("echoface_decisions", metrics);
            Assert.Contains("echoface_source_restarts", metrics);
            Assert.Contains("echoface_stage_ms_count{stage=\"embed\"}", metrics);
        }
        Assert.True(daemon.Stop(), $"the daemon did not stop with exit code 0 within 20 s of SIGTERM:\n{daemon.Log}");

        using var outbox = new EventOutbox(Path.Combine(_cli.DataDirectory, "echoface.db"));
        var events = outbox.Read(includeSent: true);
        Assert.Contains(events, e => e.Kind == "access" && e.Payload.Contains("\"granted\""));
        Assert.True(events[^1].Payload.Contains("stopping"), string.Join("\n", events.Select(e => e.Payload)) + daemon.Log);
        Assert.Equal("Fault", outbox.DoorState("door-1")); // fail position recorded with the last event
    }

    [Theory]
    [InlineData("echoface.service")]
    [InlineData("echoface-fleet.service")]
    public void The_systemd_units_pass_systemd_analyze_verify(string name)
    {
        if (!File.Exists("/usr/bin/systemd-analyze")) throw new InvalidOperationException($"systemd-analyze is missing: run {TestEnvironment.SetupCommand}");
        // verify needs ExecStart's binary to exist: point it at a stand-in inside the test's folder
        var exe = Path.Combine(_dir, "echoface");
        File.WriteAllText(exe, "#!/bin/sh\nexit 0\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(exe, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var unit = File.ReadAllText(Path.Combine(TestEnvironment.RepoRoot, "systemd", name)).Replace("/usr/lib/echoface/echoface ", exe + " ");
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, unit);
        using var verify = Process.Start(new ProcessStartInfo("systemd-analyze", ["verify", path]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var output = verify.StandardError.ReadToEnd() + verify.StandardOutput.ReadToEnd();
        verify.WaitForExit();
        Assert.True(verify.ExitCode == 0, output);
        Assert.DoesNotContain("Unknown key", output);
    }
}
