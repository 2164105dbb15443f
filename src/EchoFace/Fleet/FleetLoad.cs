using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EchoFace.Sync;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using Npgsql;

namespace EchoFace.Fleet;

/// <summary>One run of the fleet load benchmark.</summary>
public sealed record FleetLoadResult(int Devices, int Collectors, int Events, double Seconds, double StoredPerSecond, double P50Ms, double P99Ms,
    double MaxMs, long RowsInserted, double RowsPerSecond, long Duplicates);

/// <summary>
/// `echoface bench fleet`: N simulated devices, each its own MQTT connection with a retained status and Last Will, publish access
/// events in the devices' own envelope (QoS 1, ULIDs) against a broker, while 1..n collectors of one share group store them in
/// PostgreSQL. Measures events stored per second, publish to committed row (p50/p99), and the rows PostgreSQL inserted.
/// </summary>
public sealed class FleetLoad(FleetOptions broker, FleetServerOptions server, ILogger log)
{
    public async Task<FleetLoadResult> RunAsync(int devices, int collectors, int events, double rate, IProgress<int>? progress,
        CancellationToken cancel)
    {
        await using var store = new FleetStore(FleetStore.Open(server.ConnectionString()), server.TelemetryHistory);
        await store.MigrateAsync(cancel);
        var site = $"bench-{Guid.NewGuid():N}"[..14];
        var published = new ConcurrentDictionary<string, long>();
        var latencies = new ConcurrentBag<double>();
        var stored = 0;
        var done = new TaskCompletionSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var running = new List<(EventCollector C, Task Run)>();
        for (var i = 0; i < collectors; i++)
        {
            var options = Copy(server, $"{server.Group}-{site}", $"{site}-collector-{i}");
            var c = new EventCollector(broker, options, store, log) { EndSessionOnStop = true };
            c.Committed += batch =>
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var m in batch)
                    if (m.Kind == MessageKind.Event && m.Site == site && published.TryGetValue(m.Id, out var at))
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(at, now).TotalMilliseconds);
                        if (Interlocked.Increment(ref stored) == events) done.TrySetResult();
                    }
            };
            running.Add((c, c.RunAsync(stop.Token)));
        }
        while (running.Any(r => !r.C.Stats.BrokerConnected)) await Task.Delay(50, cancel);
        var rowsBefore = await RowsInsertedAsync(store.Source, cancel);

        var clients = await ConnectDevicesAsync(site, devices, cancel);
        var watch = Stopwatch.StartNew();
        using var report = new Timer(_ => progress?.Report(Volatile.Read(ref stored)), null, 500, 500);
        await PublishAsync(clients, site, events, rate, published, cancel);
        await DisconnectAsync(clients, site);
        var finished = await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(20 + events / 1000.0), cancel));
        var seconds = watch.Elapsed.TotalSeconds;
        progress?.Report(stored);
        if (finished != done.Task)
            log.LogWarning("bench fleet: only {Stored} of {Events} events were stored in time (threads {Threads}, queued work {Queued}); " +
                           "collectors: {Stats}", stored, events, ThreadPool.ThreadCount, ThreadPool.PendingWorkItemCount,
                string.Join("; ", running.Select(r => r.C.Stats).Select(s => $"received {s.Received}, stored {s.Events}, " +
                    $"re-sends {s.Duplicates}, refused {s.Refused}, acknowledged {s.Acknowledged}, error {s.LastError}")));
        stop.Cancel();
        foreach (var (c, run) in running)
        {
            await run;
            await c.DisposeAsync();
        }
        // a backend reports its insert counts when it ends: close the pool's connections, then read them
        store.Source.Clear();
        await Task.Delay(300, cancel);
        var rows = await RowsInsertedAsync(store.Source, cancel) - rowsBefore;
        await CleanAsync(store.Source, site, cancel);
        var sorted = latencies.Order().ToArray();
        return new FleetLoadResult(devices, collectors, stored, Math.Round(seconds, 2), Math.Round(stored / seconds), Pct(sorted, 50),
            Pct(sorted, 99),
            sorted.Length == 0 ? 0 : Math.Round(sorted[^1], 1), rows, Math.Round(rows / seconds), running.Sum(r => r.C.Stats.Duplicates));
    }

    /// <summary>The run's own share group and client ids, so no session of an earlier run takes a share of this one.</summary>
    /// <summary>The simulated devices leave once the broker has taken every event: no retained status left behind, no Last Will.</summary>
    private static async Task DisconnectAsync(List<IMqttClient> clients, string site)
    {
        foreach (var (client, i) in clients.Select((c, i) => (c, i)))
        {
            await client.PublishAsync(Message(new FleetTopics(site, $"door-{i:D4}").Status, [], retain: true), CancellationToken.None);
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None);
            client.Dispose();
        }
    }

    private static FleetServerOptions Copy(FleetServerOptions o, string group, string id) => new()
    {
        Database = o.Database, DatabasePasswordFile = o.DatabasePasswordFile, Group = group, CollectorId = id, BatchSize = o.BatchSize,
        BatchMilliseconds = o.BatchMilliseconds, ReceiveMaximum = o.ReceiveMaximum, SessionExpiryHours = 1, MaxMessageBytes = o.MaxMessageBytes,
        TelemetryHistory = o.TelemetryHistory,
    };

    private static double Pct(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : Math.Round(sorted[(int)Math.Min(sorted.Length - 1, sorted.Length * p / 100)], 1);

    /// <summary>Each device connects as the daemon does: a retained offline Last Will, then its retained online status.</summary>
    private async Task<List<IMqttClient>> ConnectDevicesAsync(string site, int devices, CancellationToken cancel)
    {
        var clients = new List<IMqttClient>();
        for (var i = 0; i < devices; i++)
        {
            var name = $"door-{i:D4}";
            var topics = new FleetTopics(site, name);
            var client = new MqttClientFactory().CreateMqttClient();
            var will = Encoding.UTF8.GetBytes($$"""{"state":"offline","device":"{{name}}","site":"{{site}}"}""");
            await client.ConnectAsync(broker.ClientOptions($"{site}-{name}").WithCleanStart(true).WithWillTopic(topics.Status).WithWillPayload(will)
                .WithWillRetain(true).WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancel);
            var status = Encoding.UTF8.GetBytes(
                $$$"""{"state":"online","device":"{{{name}}}","site":"{{{site}}}","version":"bench","details":{"provider":"cpu"}}""");
            await client.PublishAsync(Message(topics.Status, status, retain: true), cancel);
            clients.Add(client);
        }
        // every collector must have stored each device's status before its events arrive (otherwise: unknown device)
        await Task.Delay(500, cancel);
        return clients;
    }

    /// <summary>Round-robin over the devices, 64 publishes in flight per device at most; paced to <paramref name="rate"/> when above 0.</summary>
    private static async Task PublishAsync(List<IMqttClient> clients, string site, int events, double rate,
        ConcurrentDictionary<string, long> published, CancellationToken cancel)
    {
        var perDevice = events / clients.Count + 1;
        var next = 0;
        var start = Stopwatch.GetTimestamp();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = cancel };
        await Parallel.ForEachAsync(Enumerable.Range(0, clients.Count), parallel, async (d, ct) =>
            {
                var topics = new FleetTopics(site, $"door-{d:D4}");
                var inFlight = new List<Task>();
                for (var k = 0; k < perDevice; k++)
                {
                    var n = Interlocked.Increment(ref next);
                    if (n > events) break;
                    if (rate > 0)
                    {
                        var due = start + (long)(Stopwatch.Frequency * n / rate);
                        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                        if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
                    }
                    var id = Ulid.NewUlid().ToString();
                    // the daemon's envelope (FleetLink.Envelope): id, at, kind, site, device, door, data
                    var body = JsonSerializer.SerializeToUtf8Bytes(new
                    {
                        id, at = DateTimeOffset.UtcNow, kind = "access", site, device = $"door-{d:D4}", door = "front",
                        data = new { outcome = n % 4 == 0 ? "denied" : "granted", identity = $"person-{n % 500}", faceScore = 0.71, n },
                    });
                    published[id] = Stopwatch.GetTimestamp();
                    inFlight.Add(Checked(clients[d].PublishAsync(Message(topics.Event("access"), body, retain: false), ct)));
                    if (inFlight.Count >= 64)
                    {
                        await Task.WhenAll(inFlight);
                        inFlight.Clear();
                    }
                }
                await Task.WhenAll(inFlight);
            });
    }

    /// <summary>A publish the broker did not take (its reason code says why) fails the run, as it would a device's outbox drain.</summary>
    private static async Task Checked(Task<MqttClientPublishResult> publish)
    {
        var r = await publish;
        if (r.ReasonCode != MqttClientPublishReasonCode.Success)
            throw new InvalidOperationException($"the broker did not take an event: {r.ReasonCode} {r.ReasonString}");
    }

    private static MqttApplicationMessage Message(string topic, byte[] payload, bool retain) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    private static async Task<long> RowsInsertedAsync(NpgsqlDataSource db, CancellationToken cancel)
    {
        await using var cmd = db.CreateCommand("SELECT tup_inserted FROM pg_stat_database WHERE datname = current_database()");
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(cancel));
    }

    /// <summary>The benchmark's rows go again: it must not leave a fake site in a fleet's history.</summary>
    private static async Task CleanAsync(NpgsqlDataSource db, string site, CancellationToken cancel)
    {
        foreach (var table in new[] { "events", "devices" })
        {
            await using var cmd = db.CreateCommand($"DELETE FROM {table} WHERE site = $1");
            cmd.Parameters.Add(new() { Value = site });
            await cmd.ExecuteNonQueryAsync(cancel);
        }
    }
}
