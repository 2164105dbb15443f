using System.Diagnostics;
using System.Threading.Channels;
using EchoFace.Sync;
using Microsoft.Extensions.Logging;
using Npgsql;
using MQTTnet;
using MQTTnet.Protocol;

namespace EchoFace.Fleet;

/// <summary>Counts a collector keeps for its log, health and the benchmark.</summary>
public sealed class CollectorStats
{
    public long Received, Events, Duplicates, Refused, Statuses, Telemetry, Reports, Answers, Acknowledged;
    public volatile bool DatabaseDown, BrokerConnected;
    public string? LastError;
}

/// <summary>
/// One collector of the fleet server: a persistent MQTT 5 session in a shared-subscription group, so several collectors split the
/// devices' messages, and the broker keeps what arrives while a collector is away. Messages are acknowledged (PUBACK) only after
/// the batch that holds them is committed to PostgreSQL: a collector killed mid-batch leaves those messages unacknowledged and
/// the broker sends them again, where the ULID key makes the second copy a duplicate, not a second row.
/// </summary>
public sealed class EventCollector(FleetOptions broker, FleetServerOptions server, FleetStore store, ILogger log) : IAsyncDisposable
{
    private sealed record Pending(IncomingMessage Message, MqttApplicationMessageReceivedEventArgs Args, long Generation);

    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly Channel<Pending> _inbox = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private long _generation;

    public CollectorStats Stats { get; } = new();

    /// <summary>Ends the broker session on a clean stop (the benchmark's collectors): nothing is queued for it afterwards.</summary>
    public bool EndSessionOnStop { get; init; }

    /// <summary>Raised after each commit with the batch's messages (the load benchmark times publish to committed row by it).</summary>
    public event Action<IReadOnlyList<IncomingMessage>>? Committed;

    /// <summary>The topic filters, shared among the group except status, which every collector reads whole (retained, for the registry).</summary>
    public IReadOnlyList<string> Filters =>
    [
        $"$share/{server.Group}/echoface/+/+/events/#", $"$share/{server.Group}/echoface/+/+/telemetry",
        $"$share/{server.Group}/echoface/+/+/config/reported", $"$share/{server.Group}/echoface/+/+/enroll/result", "echoface/+/+/status",
    ];

    public async Task RunAsync(CancellationToken stop)
    {
        _client.ApplicationMessageReceivedAsync += Receive;
        var writer = Task.Run(() => WriteLoopAsync(stop), CancellationToken.None);
        var backoff = TimeSpan.FromSeconds(broker.ReconnectMinSeconds);
        var certificate = broker.Tls ? broker.CertificateCheck(TimeProvider.System) : null;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                certificate?.Forget();
                var options = broker.ClientOptions(server.Collector, certificate).WithCleanStart(false)
                    .WithSessionExpiryInterval((uint)server.SessionExpiryHours * 3600).WithReceiveMaximum((ushort)server.ReceiveMaximum)
                    .WithKeepAlivePeriod(TimeSpan.FromSeconds(broker.KeepAliveSeconds)).Build();
                Interlocked.Increment(ref _generation);
                var result = await _client.ConnectAsync(options, stop);
                broker.EnsureAccepted(result);
                var subscribe = new MqttClientSubscribeOptionsBuilder();
                foreach (var f in Filters) subscribe.WithTopicFilter(f, MqttQualityOfServiceLevel.AtLeastOnce);
                await _client.SubscribeAsync(subscribe.Build(), stop);
                Stats.BrokerConnected = true;
                backoff = TimeSpan.FromSeconds(broker.ReconnectMinSeconds);
                log.LogInformation("Fleet collector {Id} connected to {Broker} (group {Group}, session {Session})", server.Collector, broker.Broker,
                    server.Group, result.IsSessionPresent ? "resumed" : "new");
                while (_client.IsConnected && !stop.IsCancellationRequested) await Task.Delay(250, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Adapter.MqttConnectingFailedException
                                          or InvalidOperationException or IOException or System.Net.Sockets.SocketException
                                          or OperationCanceledException)
            {
                Stats.LastError = certificate?.LastFailure ?? e.Message;
                log.LogWarning("Fleet collector: broker {Broker} unreachable ({Reason}); retrying in {Seconds:F1} s", broker.Broker, Stats.LastError,
                    backoff.TotalSeconds);
            }
            Stats.BrokerConnected = false;
            try { await Task.Delay(backoff * (0.5 + Random.Shared.NextDouble()), stop); } catch (OperationCanceledException) { break; }
            backoff = TimeSpan.FromSeconds(Math.Min(broker.ReconnectMaxSeconds, backoff.TotalSeconds * 2));
        }
        _inbox.Writer.TryComplete();
        await writer;
        if (_client.IsConnected)
            try
            {
                var bye = new MqttClientDisconnectOptionsBuilder();
                if (EndSessionOnStop) bye.WithSessionExpiryInterval(0);
                await _client.DisconnectAsync(bye.Build(), CancellationToken.None);
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException) { }
    }

    private Task Receive(MqttApplicationMessageReceivedEventArgs e)
    {
        // acknowledged by the write loop after the commit
        e.AutoAcknowledge = false;
        Interlocked.Increment(ref Stats.Received);
        var m = e.ApplicationMessage;
        var message = IncomingMessage.Read(m.Topic, System.Buffers.BuffersExtensions.ToArray(m.Payload), server.MaxMessageBytes);
        _inbox.Writer.TryWrite(new Pending(message, e, Interlocked.Read(ref _generation)));
        return Task.CompletedTask;
    }

    private async Task WriteLoopAsync(CancellationToken stop)
    {
        var batch = new List<Pending>(server.BatchSize);
        var reader = _inbox.Reader;
        while (await WaitAsync(reader))
        {
            batch.Clear();
            var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * server.BatchMilliseconds / 1000;
            while (batch.Count < server.BatchSize)
            {
                if (reader.TryRead(out var p)) { batch.Add(p); continue; }
                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                if (left <= TimeSpan.Zero) break;
                using var wait = new CancellationTokenSource(left);
                try { if (!await reader.WaitToReadAsync(wait.Token)) break; }
                catch (OperationCanceledException) { break; }
            }
            if (!await CommitAsync(batch, stop)) return;
            Committed?.Invoke([.. batch.Select(p => p.Message)]);
            await AcknowledgeAsync(batch);
        }
    }

    private static async Task<bool> WaitAsync(ChannelReader<Pending> reader)
    {
        try { return await reader.WaitToReadAsync(); }
        catch (ChannelClosedException) { return false; }
    }

    /// <summary>Commits a batch, retrying while the database is away (nothing is acknowledged meanwhile); false when stopped first.</summary>
    private async Task<bool> CommitAsync(List<Pending> batch, CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                try { Count(await store.WriteAsync([.. batch.Select(p => p.Message)], server.Collector, CancellationToken.None)); }
                catch (Exception e) when (!Unavailable(e))
                {
                    // one message the database will not take must not hold every other one back: store them one at a time
                    log.LogWarning("Fleet collector: a batch was refused ({Reason}); storing its {Count} messages one at a time", e.Message,
                        batch.Count);
                    await IsolateAsync(batch);
                }
                if (Stats.DatabaseDown) log.LogInformation("Fleet collector: the database is back; storing again");
                Stats.DatabaseDown = false;
                return true;
            }
            catch (Exception e) when (Unavailable(e))
            {
                Stats.LastError = e.Message;
                if (!Stats.DatabaseDown)
                    log.LogWarning("Fleet collector: the database is unavailable ({Reason}); {Count} messages held unacknowledged until it returns",
                        e.Message, batch.Count);
                Stats.DatabaseDown = true;
                if (stop.IsCancellationRequested) return false;
                try { await Task.Delay(backoff, stop); } catch (OperationCanceledException) { return false; }
                backoff = TimeSpan.FromMilliseconds(Math.Min(10_000, backoff.TotalMilliseconds * 2));
            }
        }
    }

    /// <summary>
    /// The database is away or busy (retry, acknowledge nothing) rather than refusing this data: connection errors, timeouts, and
    /// PostgreSQL's classes 08 (connection), 40 (deadlock, serialization), 53 (resources), 57 (shutdown, starting) and 58 (system).
    /// </summary>
    private static bool Unavailable(Exception e) => e switch
    {
        PostgresException p => p.SqlState[..2] is "08" or "40" or "53" or "57" or "58",
        NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or IOException or InvalidOperationException => true,
        _ => false,
    };

    /// <summary>Each message of a refused batch alone; the one the database refuses is kept as refused, with the database's reason.</summary>
    private async Task IsolateAsync(List<Pending> batch)
    {
        foreach (var m in batch.Select(p => p.Message))
            try { Count(await store.WriteAsync([m], server.Collector, CancellationToken.None)); }
            catch (Exception e) when (!Unavailable(e))
            {
                var why = e is PostgresException p ? $"PostgreSQL refused it: {p.SqlState} {p.MessageText}" : $"not storable: {e.Message}";
                Count(await store.WriteAsync([IncomingMessage.Refuse(m.Topic, System.Text.Encoding.UTF8.GetBytes(m.Body), why)], server.Collector,
                    CancellationToken.None));
            }
    }

    private void Count(BatchOutcome o)
    {
        Interlocked.Add(ref Stats.Events, o.Events);
        Interlocked.Add(ref Stats.Duplicates, o.Duplicates);
        Interlocked.Add(ref Stats.Statuses, o.Statuses);
        Interlocked.Add(ref Stats.Telemetry, o.Telemetry);
        Interlocked.Add(ref Stats.Reports, o.Reports);
        Interlocked.Add(ref Stats.Answers, o.Answers);
        Interlocked.Add(ref Stats.Refused, o.Refused.Count);
        foreach (var r in o.Refused.Take(20)) log.LogWarning("Fleet collector refused a message on {Topic}: {Reason}", r.Topic, r.Reason);
        if (o.Refused.Count > 20)
            log.LogWarning("Fleet collector refused {More} more messages in this batch (`echoface fleet refused`)", o.Refused.Count - 20);
    }

    /// <summary>Publishes to a device over this collector's connection (the registry's enrolments, the rollouts' documents), QoS 1.</summary>
    public async Task PublishAsync(string topic, byte[] payload, bool retain, CancellationToken cancel)
    {
        if (await _client.JsonAsync(topic, payload, retain, cancel) is { } refused) throw new InvalidOperationException(refused);
    }

    /// <summary>PUBACKs in arrival order; a message from an earlier connection is left for the broker to send again.</summary>
    private async Task AcknowledgeAsync(List<Pending> batch)
    {
        var generation = Interlocked.Read(ref _generation);
        foreach (var p in batch)
        {
            if (p.Generation != generation || !_client.IsConnected) continue;
            try
            {
                await p.Args.AcknowledgeAsync(CancellationToken.None);
                Interlocked.Increment(ref Stats.Acknowledged);
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or ObjectDisposedException)
            {
                // the connection went down between commit and acknowledgement: the broker re-sends, the ULID dedupes
                log.LogDebug("Fleet collector: acknowledgement lost ({Reason})", e.Message);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
