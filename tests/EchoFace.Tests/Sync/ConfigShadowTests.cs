using System.Diagnostics;
using System.Text;
using EchoFace.Configuration;
using EchoFace.Sync;
using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Sync;

/// <summary>Desired configuration from the fleet: applied, stale, invalid, malformed, oversize, group under device, kept across restarts.</summary>
[Trait("Category", "Integration")]
public class ConfigShadowTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private string Db => Path.Combine(_dir, "echoface.db");

    private static byte[] Doc(string json) => Encoding.UTF8.GetBytes(json);

    [Fact]
    public void A_valid_document_is_applied_stored_and_kept_across_a_restart()
    {
        using (var shadow = new ConfigShadow(Db, null))
        {
            var r = shadow.Offer("device", Doc("""{"version": 3, "Access": {"Policy": "face", "ReentrySeconds": 20}, "Match": {"IdentifyThreshold": 0.5}}"""), out var changed);
            Assert.Equal("applied", r.Status);
            Assert.Equal(["Match", "Access"], changed.Order().Reverse());
            Assert.Empty(r.PendingRestart); // both change live
            Assert.Equal("face", shadow.Current.Access.Policy);
        }
        using var again = new ConfigShadow(Db, null);
        Assert.Equal(3, again.Version("device"));
        Assert.Equal(20, again.Current.Access.ReentrySeconds);
        Assert.Equal(0.5f, again.Current.Match.IdentifyThreshold);
    }

    [Theory]
    [InlineData("""{"version": 4, "Access": {"Policy": "face+iris"}}""", "Access.Policy")]
    [InlineData("""{"version": 4, "Acces": {"Policy": "face"}}""", "'Acces'")]
    [InlineData("""{"version": 4, "Door": {"UnlockSeconds": "long"}}""", "configuration is invalid")]
    [InlineData("""{"Access": {"Policy": "face"}}""", "`version`")]
    [InlineData("""{"version": 4, "Access": """, "malformed JSON")]
    [InlineData("""[1, 2]""", "malformed JSON")]
    public void An_invalid_document_is_rejected_whole_and_the_running_one_stays(string json, string reason)
    {
        using var shadow = new ConfigShadow(Db, null);
        shadow.Offer("device", Doc("""{"version": 3, "Match": {"VerifyThreshold": 0.42}}"""), out _);
        var r = shadow.Offer("device", Doc(json), out var changed);
        Assert.Equal("rejected", r.Status);
        Assert.Contains(reason, r.Error);
        Assert.Empty(changed);
        Assert.Equal(3, shadow.Version("device"));
        Assert.Equal(0.42f, shadow.Current.Match.VerifyThreshold);
        Assert.Equal("face+liveness", shadow.Current.Access.Policy);
    }

    [Fact]
    public void Stale_and_oversize_documents_are_not_applied()
    {
        using var shadow = new ConfigShadow(Db, null);
        shadow.Offer("device", Doc("""{"version": 7, "Door": {"UnlockSeconds": 8}}"""), out _);
        var stale = shadow.Offer("device", Doc("""{"version": 7, "Door": {"UnlockSeconds": 2}}"""), out _);
        Assert.Equal("ignored", stale.Status);
        Assert.Equal(8, shadow.Current.Door.UnlockSeconds);
        var big = shadow.Offer("device", Doc("{\"version\": 9, \"Door\": {\"Name\": \"" + new string('x', ConfigShadow.MaxBytes) + "\"}}"), out _);
        Assert.Equal("rejected", big.Status);
        Assert.Contains("limit", big.Error);
    }

    [Fact]
    public void The_device_document_wins_over_the_group_one_and_the_command_line_over_both()
    {
        using var shadow = new ConfigShadow(Db, null, new Dictionary<string, string?> { ["Door:Name"] = "from-command-line" });
        shadow.Offer("group", Doc("""{"version": 1, "Door": {"UnlockSeconds": 4, "HeldOpenSeconds": 45, "Name": "group"}, "Access": {"Schedules": {"staff": [{"Days": "Mon-Fri"}]}}}"""), out _);
        shadow.Offer("device", Doc("""{"version": 1, "Door": {"UnlockSeconds": 9}}"""), out _);
        Assert.Equal(9, shadow.Current.Door.UnlockSeconds);      // device
        Assert.Equal(45, shadow.Current.Door.HeldOpenSeconds);   // group
        Assert.Equal("from-command-line", shadow.Current.Door.Name);
        Assert.Equal("Mon-Fri", Assert.Single(shadow.Current.Access.Schedules["staff"]).Days);
        var r = shadow.Offer("group", Doc("""{"version": 2, "Inference": {"IntraOpThreads": 2}}"""), out _);
        Assert.Equal(["Inference"], r.PendingRestart); // stored, used from the next start
        Assert.Equal(9, shadow.Current.Door.UnlockSeconds);
    }

    [Fact]
    public void The_camera_source_alone_changes_live_its_frame_size_needs_a_restart()
    {
        using var shadow = new ConfigShadow(Db, null);
        var live = shadow.Offer("device", Doc("""{"version": 1, "Camera": {"Source": "rtsp://10.0.0.7/stream"}}"""), out var changed);
        Assert.Equal(["Camera"], changed);
        Assert.Empty(live.PendingRestart);
        var size = shadow.Offer("device", Doc("""{"version": 2, "Camera": {"Source": "rtsp://10.0.0.8/stream", "Width": 1280}}"""), out _);
        Assert.Equal(["Camera"], size.PendingRestart);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void A_pushed_camera_source_is_opened_by_the_running_daemon_without_a_restart()
    {
        using var broker = new Mosquitto();
        var cli = new CliRunner();
        var jolie = CliRunner.Photos("df_angelina_jolie");
        Assert.Equal(0, cli.Run("enroll", "jolie", jolie[0], jolie[1]).ExitCode);
        // an empty corridor first (a stranger looping for a minute could run the door into lockout before the switch)
        var corridor = TestEnvironment.Ffmpeg(Path.Combine(_dir, "corridor.mp4"), "-f", "lavfi", "-i", "color=c=gray:s=640x480:r=10:d=30", "-pix_fmt", "yuv420p");
        var door = TestEnvironment.Video(Path.Combine(_dir, "jolie.mp4"), 30, 0, jolie[2]);
        // the first source from the environment: a --camera on the command line would outrank the fleet (DESIGN.md: file < environment < fleet < command line)
        using var daemon = new DaemonProcess(broker, cli.DataDirectory, "door-cam", new Dictionary<string, string> { ["ECHOFACE__Camera__Source"] = $"file:{corridor}" }, camera: null);
        daemon.WaitConnected();
        var doc = Path.Combine(_dir, "camera.json");
        File.WriteAllText(doc, $$$"""{"Camera": {"Source": "file:{{{door}}}"}}""");
        var pushed = cli.Run("fleet", "push-config", doc, "--broker", broker.Url(), "--site", "lab", "--device", "door-cam", "--json");
        Assert.True(pushed.ExitCode == 0, pushed.Stdout + pushed.Stderr + daemon.Log);
        Assert.Equal("[]", Assert.Single(pushed.Json.GetProperty("reports").EnumerateArray()).GetProperty("pendingRestart").GetString());
        daemon.WaitFor("Access granted", "the new camera source was not opened");
        Assert.DoesNotContain("Camera fault", daemon.Log);
        Assert.True(daemon.Stop(), daemon.Log);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Fleet_push_config_reaches_a_running_daemon_and_reports_back()
    {
        using var broker = new Mosquitto();
        var data = Path.Combine(_dir, "device");
        using var daemon = new DaemonProcess(broker, data, "door-c");
        try
        {
            daemon.WaitConnected();
            var cli = new CliRunner();
            var good = Path.Combine(_dir, "good.json");
            File.WriteAllText(good, """{"Access": {"Policy": "face"}}""");
            var applied = cli.Run("fleet", "push-config", good, "--broker", broker.Url(), "--site", "lab", "--device", "door-c", "--json");
            Assert.True(applied.ExitCode == 0, applied.Stdout + applied.Stderr + daemon.Log);
            var report = Assert.Single(applied.Json.GetProperty("reports").EnumerateArray());
            Assert.Equal("applied", report.GetProperty("status").GetString());

            var bad = Path.Combine(_dir, "bad.json");
            File.WriteAllText(bad, """{"Access": {"Policy": "face+iris"}}""");
            var rejected = cli.Run("fleet", "push-config", bad, "--broker", broker.Url(), "--site", "lab", "--device", "door-c", "--json");
            Assert.Equal(1, rejected.ExitCode);
            Assert.Contains("Access.Policy", rejected.Stdout);
            Assert.False(daemon.Process.HasExited, "a rejected document must not stop the daemon");

            // commands: a remote unlock needs a reason, is answered on its result topic and audited; malformed ones are refused, not fatal
            var options = new FleetOptions { Broker = broker.Url(), Site = "lab" };
            await using var fleet = await FleetClient.ConnectAsync(options, CancellationToken.None);
            await fleet.SubscribeAsync("echoface/lab/door-c/cmd/+/result", CancellationToken.None);
            await fleet.SubscribeAsync("echoface/lab/door-c/telemetry", CancellationToken.None);
            await fleet.SubscribeAsync("echoface/lab/door-c/events/#", CancellationToken.None);
            await fleet.PublishAsync("echoface/lab/door-c/cmd/unlock", Encoding.UTF8.GetBytes("""{"requestId": "r1", "reason": "delivery at the back door"}"""), false, CancellationToken.None);
            await fleet.PublishAsync("echoface/lab/door-c/cmd/unlock", Encoding.UTF8.GetBytes("""{"requestId": "r2"}"""), false, CancellationToken.None);
            await fleet.PublishAsync("echoface/lab/door-c/cmd/unlock", Encoding.UTF8.GetBytes("""{"requestId": """), false, CancellationToken.None);
            await fleet.PublishAsync("echoface/lab/door-c/cmd/resync", Encoding.UTF8.GetBytes("""{"requestId": "r4"}"""), false, CancellationToken.None);
            var seen = await fleet.CollectAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15), CancellationToken.None);
            var results = seen.Where(m => m.Topic.EndsWith("/result", StringComparison.Ordinal)).Select(m => m.Payload).ToList();
            Assert.Contains(results, r => r.GetProperty("requestId").GetString() == "r1" && r.GetProperty("status").GetString() == "done");
            Assert.Contains(results, r => r.GetProperty("requestId").GetString() == "r2" && r.GetProperty("error").GetString()!.Contains("reason"));
            Assert.Contains(results, r => r.GetProperty("status").GetString() == "refused" && r.GetProperty("error").GetString()!.Contains("malformed JSON"));
            Assert.Contains(results, r => r.GetProperty("requestId").GetString() == "r4" && r.GetProperty("status").GetString() == "done");
            Assert.Contains(seen, m => m.Topic.EndsWith("/telemetry", StringComparison.Ordinal) && m.Payload.TryGetProperty("outboxPending", out _));
            Assert.Contains(seen, m => m.Topic.EndsWith("/events/access", StringComparison.Ordinal) && m.Payload.GetProperty("data").GetProperty("type").GetString() == "remote_unlock");
            Assert.False(daemon.Process.HasExited);
        }
        finally
        {
            daemon.Stop();
        }
        using var stored = new ConfigShadow(Path.Combine(data, "echoface.db"), null);
        Assert.Equal("face", stored.Current.Access.Policy); // the applied one, kept for the next start
    }
}
