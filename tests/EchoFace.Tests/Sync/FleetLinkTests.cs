using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using EchoFace.Storage;
using EchoFace.Sync;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;

namespace EchoFace.Tests.Sync;

/// <summary>The device's fleet link against a real mosquitto: zero-loss delivery across broker outages and kill -9, Last Will, TLS.</summary>
[Trait("Category", "Slow")]
public class FleetLinkTests
{
    private readonly string _dir = TestEnvironment.TempDirectory();

    /// <summary>A watcher with a persistent session: the broker keeps its QoS 1 messages while it is away or the broker restarts.</summary>
    private sealed class Watcher : IAsyncDisposable
    {
        private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
        private readonly string _url, _filter, _id = $"watcher-{Guid.NewGuid():N}"[..20];
        public ConcurrentQueue<JsonElement> Received { get; } = new();

        public Watcher(string url, string filter)
        {
            (_url, _filter) = (url, filter);
            _client.ApplicationMessageReceivedAsync += e =>
            {
                Received.Enqueue(JsonDocument.Parse(e.ApplicationMessage.Payload).RootElement.Clone());
                return Task.CompletedTask;
            };
        }

        public async Task ConnectAsync()
        {
            var uri = new Uri(_url);
            var result = await _client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(uri.Host, uri.Port).WithClientId(_id)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart(false).WithSessionExpiryInterval(3600).Build());
            if (!result.IsSessionPresent)
                await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(_filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        /// <summary>Distinct ids of the access events received (a device's own status events come too).</summary>
        public HashSet<string> Ids => [.. Received.Where(r => r.TryGetProperty("kind", out var k) && k.GetString() == "access").Select(r => r.GetProperty("id").GetString()!)];

        public async ValueTask DisposeAsync()
        {
            if (_client.IsConnected) await _client.DisconnectAsync();
            _client.Dispose();
        }
    }

    private static FleetOptions Options(Mosquitto broker, string device = "door-a") => new()
    {
        Enabled = true, Broker = broker.Url(), Site = "lab", DeviceId = device, ReconnectMinSeconds = 0.2, ReconnectMaxSeconds = 1,
    };

    private Task Until(Func<bool> done, TimeSpan limit, string what) => Eventually.TrueAsync(done, what, limit, () => _logs.ToString());

    [Fact]
    public async Task Events_stored_while_the_broker_is_down_all_arrive_in_order_after_it_restarts()
    {
        using var broker = new Mosquitto();
        await using var watcher = new Watcher(broker.Url(), "echoface/lab/door-a/events/#");
        await watcher.ConnectAsync();
        broker.Stop();

        using var outbox = new EventOutbox(Path.Combine(_dir, "echoface.db"));
        await using var link = new FleetLink(Options(broker), outbox, () => new { }, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => link.RunAsync(stop.Token));
        for (var i = 0; i < 10_000; i++) outbox.Append("access", "door-1", new { n = i });
        // the link has tried and failed to reach the broker: nothing can have been published
        await Eventually.TrueAsync(() => link.LastError is not null, "the link's first failed connection");
        Assert.Equal(0, link.Published);
        Assert.Equal(10_000, outbox.Pending());
        Assert.NotNull(link.LastError);

        broker.Start();
        await watcher.ConnectAsync();
        await Until(() => watcher.Ids.Count == 10_000, TimeSpan.FromSeconds(90), "delivery of 10,000 events");
        var order = watcher.Received.Select(r => r.GetProperty("data").GetProperty("n").GetInt32()).Distinct().ToList();
        Assert.Equal(Enumerable.Range(0, 10_000), order);
        await Until(() => outbox.Pending() == 0, TimeSpan.FromSeconds(10), "every event marked sent");
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Kill_9_mid_drain_loses_nothing_and_the_last_will_says_offline()
    {
        using var broker = new Mosquitto();
        await using var events = new Watcher(broker.Url(), "echoface/lab/door-k/events/#");
        await events.ConnectAsync();
        var data = Path.Combine(_dir, "device");
        using (var outbox = new EventOutbox(Path.Combine(data, "echoface.db")))
            for (var i = 0; i < 10_000; i++) outbox.Append("access", "door-1", new { n = i });

        using (var first = Daemon(broker, data, "door-k"))
        {
            await Until(() => events.Ids.Count >= 1_000, TimeSpan.FromSeconds(60), "the first thousand events");
            first.Process.Kill(); // SIGKILL: no clean stop, no offline message of its own
            first.Process.WaitForExit();
            Assert.True(events.Ids.Count < 10_000, "the kill came after the drain had finished: nothing was tested");
        }
        await using (var status = new Watcher(broker.Url(), "echoface/lab/door-k/status"))
        {
            await status.ConnectAsync();
            await Until(() => status.Received.Any(s => s.GetProperty("state").GetString() == "offline"), TimeSpan.FromSeconds(10), "the Last Will");
        }
        using (var second = Daemon(broker, data, "door-k"))
        {
            await Until(() => events.Ids.Count == 10_000, TimeSpan.FromSeconds(90), "the rest after the restart");
            Assert.True(second.Stop(), second.Log);
        }
        using var check = new EventOutbox(Path.Combine(data, "echoface.db"));
        Assert.Empty(check.Read(100_000, kind: "access")); // nothing left waiting
        var stored = check.Read(100_000, includeSent: true, kind: "access").Select(e => e.Id).ToHashSet();
        Assert.Equal(10_000, stored.Count);
        Assert.True(stored.SetEquals(events.Ids), "the broker delivered exactly the stored access events");
    }

    private readonly List<DaemonProcess> _daemons = [];
    private string _logs => string.Join("\n", _daemons.Select(d => d.Log));

    // small windows make the drain slow enough to be killed in the middle of it
    private DaemonProcess Daemon(Mosquitto broker, string data, string device)
    {
        var d = new DaemonProcess(broker, data, device, new Dictionary<string, string> { ["ECHOFACE__Fleet__Window"] = "20" });
        _daemons.Add(d);
        return d;
    }

    [Fact]
    public async Task A_tls_broker_with_a_generated_ca_is_reached_and_an_untrusted_one_refused()
    {
        var certificates = TestCertificates.Make(_dir);
        var ca = certificates.Ca;
        using var broker = new Mosquitto(TestCertificates.Mosquitto(certificates));

        var trusted = Options(broker, "door-t");
        trusted.Broker = broker.Url(tls: true);
        trusted.CaFile = $"{ca}.crt";
        await using var watcher = await FleetClient.ConnectAsync(trusted, CancellationToken.None);
        await watcher.SubscribeAsync("echoface/lab/door-t/status", CancellationToken.None);
        using var outbox = new EventOutbox(Path.Combine(_dir, "tls.db"));
        await using (var link = new FleetLink(trusted, outbox, () => new { }, NullLogger.Instance))
        {
            using var stop = new CancellationTokenSource();
            var run = Task.Run(() => link.RunAsync(stop.Token));
            outbox.Append("alarm", "door-1", new { type = "forced_open" });
            await Until(() => outbox.Pending() == 0, TimeSpan.FromSeconds(20), "an event over TLS");
            var seen = await watcher.CollectAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), CancellationToken.None);
            Assert.Contains(seen, m => m.Payload.GetProperty("state").GetString() == "online");
            await stop.CancelAsync();
            await run;
        }

        var untrusted = Options(broker, "door-u");
        untrusted.Broker = broker.Url(tls: true); // no CaFile: the system store does not know this CA
        using var other = new EventOutbox(Path.Combine(_dir, "untrusted.db"));
        await using var refused = new FleetLink(untrusted, other, () => new { }, NullLogger.Instance);
        using var stopRefused = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await refused.RunAsync(stopRefused.Token);
        Assert.Equal(0, refused.Connects);
        Assert.Contains("not trusted", refused.LastError);
        Assert.Contains("no Fleet.CaFile", refused.LastError);
        Assert.False(refused.ClockSuspected);
    }

    [Fact]
    public async Task Retry_now_cuts_the_back_off_short()
    {
        var port = FreePort.Next(); // nothing listens yet
        var options = new FleetOptions
        {
            Enabled = true, Broker = $"mqtt://127.0.0.1:{port}", Site = "lab", DeviceId = "door-r", ReconnectMinSeconds = 60,
            ReconnectMaxSeconds = 120
        };
        using var outbox = new EventOutbox(Path.Combine(_dir, "retry.db"));
        await using var link = new FleetLink(options, outbox, () => new { }, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => link.RunAsync(stop.Token));
        await Until(() => link.LastError is not null, TimeSpan.FromSeconds(20), "a first refused attempt");
        using var broker = new Mosquitto(port: port);
        link.RetryNow();
        await Until(() => link.Connected, TimeSpan.FromSeconds(20), "connected at once, not after the 30-90 s back-off");
        await stop.CancelAsync();
        await run;
    }
}
