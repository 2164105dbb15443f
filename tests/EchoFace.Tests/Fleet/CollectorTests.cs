using System.Diagnostics;
using System.Text;
using EchoFace.Fleet;
using EchoFace.Storage;
using EchoFace.Sync;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;

namespace EchoFace.Tests.Fleet;

/// <summary>
/// Collectors against a real mosquitto and PostgreSQL, fed by the devices' own link and outbox: nothing lost or doubled when a
/// collector is away, killed with SIGKILL mid-stream or its database goes down; bad messages refused without harm.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CollectorTests : IDisposable
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private readonly PostgresCluster _pg = new();
    private readonly Mosquitto _broker;
    private readonly List<IAsyncDisposable> _cleanup = [];

    public CollectorTests() => _broker = new Mosquitto(directory: Path.Combine(_dir, "broker"));

    public void Dispose()
    {
        foreach (var c in Enumerable.Reverse(_cleanup)) c.DisposeAsync().AsTask().Wait();
        _broker.Dispose();
        _pg.Dispose();
    }

    /// <summary>A device as in the field: its SQLite outbox drained by its FleetLink (status first, then events with QoS 1).</summary>
    private sealed class Device : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;
        public EventOutbox Outbox { get; }
        public FleetLink Link { get; }

        public Device(string url, string dir, string name)
        {
            Outbox = new EventOutbox(Path.Combine(dir, $"{name}.db"));
            Link = new FleetLink(new FleetOptions { Enabled = true, Broker = url, Site = "lab", DeviceId = name, Window = 100 }, Outbox,
                () => new { provider = "cpu" }, NullLogger.Instance);
            _run = Task.Run(() => Link.RunAsync(_stop.Token));
        }

        public List<string> Append(int n, int from = 0) =>
            [.. Enumerable.Range(from, n).Select(i => Outbox.Append("access", "front", new { outcome = i % 3 == 0 ? "denied" : "granted", n = i }))];

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await _run;
            await Link.DisposeAsync();
            Outbox.Dispose();
        }
    }

    private Device NewDevice(string name)
    {
        var d = new Device(_broker.Url(), _dir, name);
        _cleanup.Add(d);
        Eventually.True(() => d.Link.Connected, $"{name} connected");
        return d;
    }

    private FleetServerOptions Server(string id) => new() { CollectorId = id, Database = _pg.ConnectionString, BatchSize = 200 };

    private async Task<(EventCollector Collector, CancellationTokenSource Stop, Task Run)> StartCollector(string id, FleetStore? store = null)
    {
        store ??= await MigratedStore();
        var collector = new EventCollector(new FleetOptions { Broker = _broker.Url(), Site = "lab" }, Server(id), store, NullLogger.Instance);
        var stop = new CancellationTokenSource();
        var run = Task.Run(() => collector.RunAsync(stop.Token));
        Eventually.True(() => collector.Stats.BrokerConnected, $"collector {id} connected");
        return (collector, stop, run);
    }

    private async Task<FleetStore> MigratedStore()
    {
        var store = new FleetStore(FleetStore.Open(_pg.ConnectionString), 100);
        await store.MigrateAsync(default);
        _cleanup.Add(store);
        return store;
    }

    private long Count(string sql)
    {
        using var db = FleetStore.Open(_pg.ConnectionString);
        using var cmd = db.CreateCommand(sql);
        return Convert.ToInt64(cmd.ExecuteScalar());
    }

    [Fact]
    public async Task Events_sent_while_the_collector_is_away_are_stored_when_it_returns_each_once()
    {
        var (first, stop, run) = await StartCollector("c1");
        var door = NewDevice("door-a");
        var ids = door.Append(300);
        Eventually.True(() => Count("SELECT count(*) FROM events") == 300, "300 events stored");
        stop.Cancel();
        await run;
        await first.DisposeAsync();

        // the broker keeps the collector's persistent session and queues for it
        ids.AddRange(door.Append(300, from: 300));
        Eventually.True(() => door.Outbox.Pending() == 0, "the device's outbox drained to the broker");
        var (_, stop2, run2) = await StartCollector("c1");
        Eventually.True(() => Count("SELECT count(*) FROM events") == 600, "the queued 300 stored after the restart", TimeSpan.FromSeconds(30));
        Assert.Equal(600, Count("SELECT count(DISTINCT id) FROM events"));
        Assert.Equal(200, Count("SELECT count(*) FROM events WHERE outcome = 'denied'"));
        Assert.Equal("online", (await new FleetQueries(FleetStore.Open(_pg.ConnectionString)).DevicesAsync("lab", default)).Single().State);
        stop2.Cancel();
        await run2;
    }

    [Fact]
    public async Task The_collector_stops_acknowledging_while_the_database_is_down_and_loses_nothing()
    {
        var (collector, stop, run) = await StartCollector("c1");
        var door = NewDevice("door-a");
        door.Append(100);
        Eventually.True(() => Count("SELECT count(*) FROM events") == 100, "100 events stored");
        var acknowledged = collector.Stats.Acknowledged;

        _pg.Stop();
        door.Append(400, from: 100);
        Eventually.True(() => collector.Stats.DatabaseDown, "the collector saw the database go");
        Eventually.True(() => door.Outbox.Pending() == 0, "the device still delivers to the broker");
        Assert.Equal(acknowledged, collector.Stats.Acknowledged);

        _pg.Start();
        Eventually.True(() => Count("SELECT count(*) FROM events") == 500, "all 500 stored once the database is back", TimeSpan.FromSeconds(60));
        Assert.False(collector.Stats.DatabaseDown);
        Assert.Equal(500, Count("SELECT count(DISTINCT id) FROM events"));
        stop.Cancel();
        await run;
    }

    [Fact]
    public async Task Bad_messages_are_refused_with_their_reason_and_the_collector_goes_on()
    {
        var (collector, stop, run) = await StartCollector("c1");
        var door = NewDevice("door-a");
        var first = door.Append(1)[0];
        Eventually.True(() => Count("SELECT count(*) FROM events") == 1, "the device's event stored");

        var raw = new MqttClientFactory().CreateMqttClient();
        await raw.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _broker.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
        async Task Send(string topic, string body) =>
            await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(body))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Send("echoface/lab/door-a/events/access", "{not json");
        await Send("echoface/lab/door-a/events/access", new string('x', 300_000));
        await Send("echoface/lab/ghost/events/access",
            $$$"""{"id":"{{{Ulid.NewUlid()}}}","at":"2026-12-01T08:00:00Z","kind":"access","site":"lab","device":"ghost","data":{}}""");
        await Send("echoface/lab/door-a/events/access",
            $$$"""{"id":"{{{first}}}","at":"2026-12-01T08:00:00Z","kind":"access","site":"lab","device":"door-a","data":{"outcome":"granted"}}""");
        await Send("echoface/lab/door-b/status", """{"state":"online","device":"door-a","site":"lab"}""");
        // valid JSON that PostgreSQL's jsonb will not take (a NUL escape): refused alone, not a batch held back for ever
        await Send("echoface/lab/door-a/events/access",
            $$$"""{"id":"{{{Ulid.NewUlid()}}}","at":"2026-12-01T08:00:00Z","kind":"access","site":"lab","device":"door-a","data":{"x":"\u0000"}}""");
        await raw.DisconnectAsync();
        raw.Dispose();

        Eventually.True(() => collector.Stats.Refused == 6, "six messages refused");
        door.Append(10, from: 1);
        Eventually.True(() => Count("SELECT count(*) FROM events") == 11, "the collector still stores the device's events");
        var reasons = (await new FleetQueries(FleetStore.Open(_pg.ConnectionString)).RefusedAsync(null, default)).Select(r => r.Reason).ToList();
        foreach (var part in new[] { "not JSON", "over FleetServer.MaxMessageBytes", "unknown device lab/ghost", $"duplicate event id {first}",
                     "on the topic of lab/door-b", "PostgreSQL refused it: 22P05" })
            Assert.Contains(reasons, r => r.Contains(part));
        Assert.Equal(0, Count("SELECT count(*) FROM devices WHERE device = 'door-b'"));
        stop.Cancel();
        await run;
    }

    /// <summary>`echoface fleet serve` as a child process, as systemd runs it.</summary>
    internal sealed class CollectorProcess : IDisposable
    {
        private readonly StringBuilder _log = new();

        public CollectorProcess(string broker, string database, string id, params string[] more)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "echoface.dll"), "fleet", "serve", "--broker", broker,
                         "--database", database, "--collector-id", id }.Concat(more))
                start.ArgumentList.Add(a);
            Process = Process.Start(start)!;
            Process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
            Process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
            Process.BeginErrorReadLine();
            Process.BeginOutputReadLine();
            Eventually.True(() => Log.Contains($"Fleet collector {id} connected"), $"collector {id} connected", abandon: () => Process.HasExited,
                context: () => Log);
        }

        public Process Process { get; }
        public string Log { get { lock (_log) return _log.ToString(); } }

        public void Kill() => System.Diagnostics.Process.Start("kill", ["-KILL", $"{Process.Id}"])!.WaitForExit();

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    [Fact]
    public async Task Two_collectors_split_the_stream_and_one_killed_mid_stream_loses_and_doubles_nothing()
    {
        await MigratedStore();
        using var c1 = new CollectorProcess(_broker.Url(), _pg.ConnectionString, "c1");
        var c2 = new CollectorProcess(_broker.Url(), _pg.ConnectionString, "c2");
        var doors = Enumerable.Range(0, 4).Select(i => NewDevice($"door-{i}")).ToList();
        const int each = 3000, total = 4 * each;
        var ids = doors.SelectMany(d => d.Append(each)).ToHashSet();
        Eventually.True(() => Count("SELECT count(*) FROM events WHERE collector = 'c2'") >= 500, "c2 storing", context: () => c2.Log);
        // hold the collectors' inserts so c2 dies with messages received and not committed (acknowledged too early, they would be lost)
        using (var source = FleetStore.Open(_pg.ConnectionString))
        await using (var holder = await source.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            await using (var cmd = new Npgsql.NpgsqlCommand("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE", holder, hold))
                await cmd.ExecuteNonQueryAsync();
            // c2 has a batch received and not committed once its insert waits on the lock
            Eventually.True(() => Count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'c2' AND wait_event_type = 'Lock'") > 0,
                "c2's insert waiting on the held lock", context: () => c2.Log);
            c2.Kill();
            c2.Process.WaitForExit();
            await hold.RollbackAsync();
        }
        var atKill = Count("SELECT count(*) FROM events");
        c2.Dispose();
        Assert.True(atKill < total, $"the kill came after the stream ({atKill} of {total} stored)");

        // systemd restarts it: its session (and what it had not acknowledged) is still on the broker
        using var again = new CollectorProcess(_broker.Url(), _pg.ConnectionString, "c2");
        Eventually.True(() => Count("SELECT count(*) FROM events") == total, $"all {total} events stored", TimeSpan.FromSeconds(90),
            context: () => $"{Count("SELECT count(*) FROM events")} stored\n{c1.Log}\n{again.Log}");
        Assert.Equal(total, Count("SELECT count(DISTINCT id) FROM events"));
        Assert.True(Count("SELECT count(*) FROM events WHERE collector = 'c1'") > 0, "c1 took a share");
        using var db = FleetStore.Open(_pg.ConnectionString);
        var stored = (await new FleetQueries(db).EventsAsync(new EventQuery(Limit: 100_000), default)).Select(e => e.Id).ToHashSet();
        Assert.True(stored.SetEquals(ids), "the stored ids are exactly the devices' outbox ids");
        Assert.Equal(0, Count("SELECT count(*) FROM refused"));
    }
}
