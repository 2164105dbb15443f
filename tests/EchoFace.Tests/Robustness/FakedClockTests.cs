using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using EchoFace.Sync;
using EchoFace.Tests.Cli;
using EchoFace.Tests.Sync;

namespace EchoFace.Tests.Robustness;

/// <summary>
/// A board without an RTC, for real: the daemon runs under libfaketime (Debian `faketime`) with its clock at 1970, then NTP's
/// first answer sets it (the timestamp file is rewritten under the running process). At 1970 the TLS broker's certificate is
/// refused and reported as the clock being unset, a scheduled group is denied with clock_unset, health says clockUnset; once
/// set, the link connects, the group is granted, and every event reaches the fleet in order, those from 1970 flagged.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FakedClockTests : IDisposable
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private DaemonProcess? _daemon;

    public void Dispose() => _daemon?.Dispose();

    private static string LibFaketime()
    {
        var arm = RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64;
        var arch = arm ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        var lib = $"/usr/lib/{arch}/faketime/libfaketime.so.1";
        Assert.True(File.Exists(lib), $"{lib} is missing: run ./setup.sh (it installs faketime)");
        return lib;
    }

    [Fact]
    public async Task A_board_booting_at_1970_says_its_clock_is_unset_and_catches_up_when_ntp_sets_it()
    {
        var certificates = TestCertificates.Make(_dir);
        using var broker = new Mosquitto(TestCertificates.Mosquitto(certificates));
        var fleet = new FleetOptions { Enabled = true, Broker = broker.Url(tls: true), Site = "lab", CaFile = $"{certificates.Ca}.crt" };
        await using var watcher = await FleetClient.ConnectAsync(fleet, CancellationToken.None);
        await watcher.SubscribeAsync(FleetTopics.AllEvents("lab", "door-c"), CancellationToken.None);

        var staging = new CliRunner();
        var jolie = CliRunner.Photos("df_angelina_jolie");
        Assert.Equal(0, staging.Run("enroll", "jolie", jolie[0], jolie[1]).ExitCode);
        var video = TestEnvironment.Video(Path.Combine(_dir, "door.mp4"), 2, 1, jolie[2]);
        var clock = Path.Combine(_dir, "clock");
        File.WriteAllText(clock, "@1970-01-02 00:00:00\n");
        var port = FreePort.Next();
        _daemon = new DaemonProcess(broker, staging.DataDirectory, "door-c", new Dictionary<string, string>
        {
            // FORCE_MONOTONIC_FIX: without it libfaketime rewrites pthread_cond_timedwait's deadlines and .NET's waits return at once;
            // the file re-read each second (NO_CACHE's re-read on every call races between threads: the clock falls back to its start)
            ["LD_PRELOAD"] = LibFaketime(), ["FAKETIME_TIMESTAMP_FILE"] = clock, ["FAKETIME_CACHE_DURATION"] = "1",
            // the camera's ffmpeg keeps the real clock: libfaketime also moves the monotonic clock at the jump, which stalls its pacing
            ["FAKETIME_SKIP_CMDS"] = "ffmpeg",
            ["FAKETIME_FORCE_MONOTONIC_FIX"] = "1",
            ["ECHOFACE__Fleet__Broker"] = broker.Url(tls: true), ["ECHOFACE__Fleet__CaFile"] = $"{certificates.Ca}.crt",
            ["ECHOFACE__Fleet__ReconnectMaxSeconds"] = "1", ["ECHOFACE__Camera__Loop"] = "true", ["ECHOFACE__Access__Policy"] = "face",
            ["ECHOFACE__Access__ReentrySeconds"] = "1", ["ECHOFACE__Access__TrackTimeoutSeconds"] = "0.5", ["ECHOFACE__Access__TimeZone"] = "UTC",
            ["ECHOFACE__Access__MaxFailures"] = "100000", ["ECHOFACE__Access__Schedules__default__0__Days"] = "Mon-Sun",
        }, camera: $"file:{video}", health: $"http://127.0.0.1:{port}");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        JsonElement? Health()
        {
            try { return JsonDocument.Parse(http.GetStringAsync("/healthz").GetAwaiter().GetResult()).RootElement; }
            catch (HttpRequestException e) when (e.StatusCode is null or HttpStatusCode.ServiceUnavailable) { return null; }
        }

        _daemon.Until(() => Health() is { } h && h.GetProperty("denied").GetInt64() >= 2 && h.GetProperty("fleetError").GetString() is not null,
            "denials and a refused broker at 1970");
        var health = Health()!.Value;
        Assert.True(health.GetProperty("clockUnset").GetBoolean());
        Assert.False(health.GetProperty("fleetConnected").GetBoolean());
        Assert.Contains("the device clock reads 1970-01-02", health.GetProperty("fleetError").GetString());
        Assert.Contains("the clock is unset (no RTC, NTP has not answered yet)", health.GetProperty("fleetError").GetString());
        Assert.Equal(0, health.GetProperty("granted").GetInt64());
        Assert.Contains("TLS: CN=127.0.0.1 is valid from", _daemon.Log);
        var ready = double.Parse(System.Text.RegularExpressions.Regex.Match(_daemon.Log, @"Ready in (\d+) ms").Groups[1].Value);
        Assert.InRange(ready, 1, 60_000); // from the kernel's counts, not the wall clock

        File.WriteAllText(clock, $"@{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}\n"); // NTP answers
        _daemon.Until(() => Health() is { } h && h.GetProperty("fleetConnected").GetBoolean() && h.GetProperty("granted").GetInt64() >= 1
                             && h.GetProperty("outboxPending").GetInt64() == 0, "connected, granted and drained once the clock is set");
        Assert.False(Health()!.Value.GetProperty("clockUnset").GetBoolean());

        var events = await watcher.CollectAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), CancellationToken.None);
        var ids = events.Select(e => e.Payload.GetProperty("id").GetString()!).Distinct().ToList();
        var faults = events.Where(e => e.Payload.GetProperty("kind").GetString() == "fault")
            .Select(e => e.Payload.GetProperty("data").GetProperty("type").GetString()).ToList();
        Assert.Equal(["clock_unset", "clock_set"], faults);
        var access = events.Where(e => e.Payload.GetProperty("kind").GetString() == "access").Select(e => e.Payload).ToList();
        var denied = access.Where(a => a.GetProperty("data").GetProperty("reason").GetString() == "clock_unset").ToList();
        Assert.True(denied.Count >= 2, string.Join("\n", access));
        Assert.All(denied, d => Assert.True(d.GetProperty("clockUnset").GetBoolean()));
        Assert.All(denied, d => Assert.StartsWith("1970-01-02", d.GetProperty("at").GetString()));
        var granted = access.Where(a => a.GetProperty("data").GetProperty("outcome").GetString() == "granted").ToList();
        Assert.NotEmpty(granted);
        Assert.All(granted, g => Assert.False(g.TryGetProperty("clockUnset", out _)));
        // the outbox's order is the fleet's: ids rise through the jump
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.True(_daemon.Stop(), _daemon.Log);
    }
}
