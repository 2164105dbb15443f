using System.Text;
using System.Text.Json;
using EchoFace.Storage;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace EchoFace.Sync;

/// <summary>
/// The device's MQTT link (MQTTnet, MQTT 5): connects with a retained offline Last Will, publishes a retained online status, and
/// drains the SQLite outbox in order with QoS 1, marking an event sent only after the broker's PUBACK. Reconnection is this loop's
/// own (MQTTnet's guidance), with jittered doubling back-off. A re-sent event keeps its ULID, so consumers dedupe by id.
/// </summary>
public sealed class FleetLink : IAsyncDisposable
{
    private readonly FleetOptions _o;
    private readonly EventOutbox _outbox;
    private readonly Func<object> _status;
    private readonly ILogger _log;
    private readonly IMqttClient _client;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private long _published, _connects;
    private readonly List<string> _subscriptions = [];
    private readonly BrokerCertificate? _certificate;
    private volatile CancellationTokenSource? _retryNow;

    /// <param name="status">extra fields for the retained online status (versions, provider, gallery size).</param>
    public FleetLink(FleetOptions options, EventOutbox outbox, Func<object> status, ILogger logger)
    {
        _o = options;
        _outbox = outbox;
        _status = status;
        _log = logger;
        Topics = new FleetTopics(options.Site, options.Device);
        _client = new MqttClientFactory().CreateMqttClient();
        if (options.Tls) _certificate = options.CertificateCheck(TimeProvider.System);
        _outbox.Appended += Wake;
        _client.ApplicationMessageReceivedAsync += async e =>
        {
            if (OnMessage is null) return;
            try { await OnMessage(e.ApplicationMessage.Topic, System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload)); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // a message the device cannot handle is logged and answered by its handler; it never takes the link down
                _log.LogError(ex, "Fleet message on {Topic} could not be handled", e.ApplicationMessage.Topic);
            }
        };
    }

    public FleetTopics Topics { get; }
    public bool Connected => _client.IsConnected;
    public long Published => Interlocked.Read(ref _published);
    public long Connects => Interlocked.Read(ref _connects);
    public string? LastError { get; private set; }
    /// <summary>Whether the last connection failed on a certificate the device's clock makes invalid (unset, behind or ahead).</summary>
    public bool ClockSuspected => LastError is not null && _certificate?.ClockSuspected == true;

    /// <summary>Ends the wait before the next connection attempt (the clock was just set: a certificate refused at 1970 is valid now).</summary>
    public void RetryNow()
    {
        try { _retryNow?.Cancel(); }
        catch (ObjectDisposedException) { } // the wait ended meanwhile
    }

    /// <summary>Handles a message on a subscribed topic (configuration, commands); runs before the message is acknowledged.</summary>
    public Func<string, byte[], Task>? OnMessage { get; set; }

    /// <summary>Runs after each connection's online status (Home Assistant's discovery documents are published then).</summary>
    public Func<Task>? OnConnected { get; set; }

    /// <summary>Topics to subscribe to on every connection (call before <see cref="RunAsync"/>).</summary>
    public void Subscribe(string filter) => _subscriptions.Add(filter);

    private void Wake()
    {
        if (_wake.CurrentCount == 0) _wake.Release();
    }

    public static JsonSerializerOptions Json { get; } = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private MqttClientOptions ClientOptions()
    {
        var offline = JsonSerializer.SerializeToUtf8Bytes(new { state = "offline", device = _o.Device, site = _o.Site }, Json);
        return _o.ClientOptions(_o.Device, _certificate)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(_o.KeepAliveSeconds))
            .WithCleanStart(true)
            .WithWillTopic(Topics.Status).WithWillPayload(offline).WithWillRetain(true).WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
    }

    /// <summary>Connects, drains, and reconnects until stopped; then marks itself offline and disconnects.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromSeconds(_o.ReconnectMinSeconds);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                _certificate?.Forget();
                _o.EnsureAccepted(await _client.ConnectAsync(ClientOptions(), stop));
                Interlocked.Increment(ref _connects);
                backoff = TimeSpan.FromSeconds(_o.ReconnectMinSeconds);
                LastError = null;
                if (_subscriptions.Count > 0)
                {
                    var sub = new MqttClientSubscribeOptionsBuilder();
                    foreach (var f in _subscriptions) sub.WithTopicFilter(f, MqttQualityOfServiceLevel.AtLeastOnce);
                    await _client.SubscribeAsync(sub.Build(), stop);
                }
                // online only once it listens: a manager who sees the status can send commands at once
                await PublishStatusAsync(stop);
                if (OnConnected is { } connected) await connected();
                _log.LogInformation("Fleet link connected to {Broker} as {Device} (site {Site})", _o.Broker, _o.Device, _o.Site);
                await DrainAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Exceptions.MqttProtocolViolationException
                                          or InvalidOperationException or IOException or System.Net.Sockets.SocketException or OperationCanceledException
                                          or MQTTnet.Adapter.MqttConnectingFailedException)
            {
                // a refused certificate says why (an unset clock is not a bad certificate); MQTTnet's message only says "rejected"
                LastError = _certificate?.LastFailure ?? e.Message;
                _log.LogWarning("Fleet link to {Broker} down ({Reason}); retrying in {Seconds:F1} s; {Pending} events wait in the outbox",
                    _o.Broker, LastError, backoff.TotalSeconds, _outbox.Pending());
            }
            if (stop.IsCancellationRequested) break;
            // jitter spreads a fleet's reconnections after a broker restart
            var delay = backoff * (0.5 + Random.Shared.NextDouble());
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                _retryNow = wait;
                try { await Task.Delay(delay, wait.Token); }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested) { backoff = TimeSpan.FromSeconds(_o.ReconnectMinSeconds); }
                catch (OperationCanceledException) { break; }
                finally { _retryNow = null; }
            }
            backoff = TimeSpan.FromSeconds(Math.Min(_o.ReconnectMaxSeconds, backoff.TotalSeconds * 2));
        }
        if (_client.IsConnected)
        {
            try
            {
                // a clean stop says offline itself (the will is only for dying)
                await PublishAsync(Topics.Status, JsonSerializer.SerializeToUtf8Bytes(new { state = "offline", device = _o.Device, site = _o.Site }, Json), retain: true, CancellationToken.None);
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), CancellationToken.None);
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException) { }
        }
    }

    private Task PublishStatusAsync(CancellationToken stop)
    {
        var status = new Dictionary<string, object?>
        {
            ["state"] = "online", ["device"] = _o.Device, ["site"] = _o.Site, ["group"] = _o.Group,
            ["version"] = typeof(FleetLink).Assembly.GetName().Version?.ToString(),
            ["startedAt"] = _started, ["uptimeSeconds"] = Math.Round((DateTimeOffset.UtcNow - _started).TotalSeconds),
            ["details"] = _status(),
        };
        return PublishAsync(Topics.Status, JsonSerializer.SerializeToUtf8Bytes(status, Json), retain: true, stop);
    }

    /// <summary>Publishes pending events in order, a window at a time; each window is marked sent once every PUBACK in it has come back.</summary>
    private async Task DrainAsync(CancellationToken stop)
    {
        while (_client.IsConnected && !stop.IsCancellationRequested)
        {
            var batch = _outbox.Read(_o.Window);
            if (batch.Count == 0)
            {
                await _wake.WaitAsync(TimeSpan.FromSeconds(1), stop);
                continue;
            }
            // started in order without waiting: MQTTnet writes packets in call order, the broker acknowledges each
            var sends = batch.Select(e => PublishAsync(Topics.Event(e.Kind), Envelope(e), retain: false, stop)).ToArray();
            await Task.WhenAll(sends);
            Interlocked.Add(ref _published, batch.Count);
            // storage refusing even this: the window goes again later with the same ids (the fleet dedupes), not in a tight loop
            if (!_outbox.MarkSent(batch.Select(e => e.Id))) await Task.Delay(TimeSpan.FromSeconds(2), stop);
        }
        if (!stop.IsCancellationRequested) throw new MQTTnet.Exceptions.MqttCommunicationException("the broker connection closed");
    }

    private byte[] Envelope(OutboxEvent e) => Envelope(e, _o.Site, _o.Device);

    /// <summary>An event as the fleet receives it: {id, at, kind, site, device, door, clockUnset (only when true), data}.</summary>
    public static byte[] Envelope(OutboxEvent e, string site, string device)
    {
        // the stored payload is JSON already: splice it in rather than parse and re-serialise
        var head = JsonSerializer.Serialize(new { id = e.Id, at = e.At, kind = e.Kind, site, device, door = e.Door }, Json);
        // taken before the board's clock was set: the time is wrong, and the fleet is told so
        if (WallClock.Unset(e.At)) head = head[..^1] + ",\"clockUnset\":true}";
        return Encoding.UTF8.GetBytes($"{head[..^1]},\"data\":{e.Payload}}}");
    }

    /// <summary>Publishes an answer (config/reported, command results) now when connected; false when the link is down.</summary>
    public async Task<bool> TryPublishAsync(string topic, byte[] payload, bool retain)
    {
        if (!_client.IsConnected) return false;
        try
        {
            await PublishAsync(topic, payload, retain, CancellationToken.None);
            return true;
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException) { return false; }
    }

    private async Task PublishAsync(string topic, byte[] payload, bool retain, CancellationToken stop)
    {
        if (await _client.JsonAsync(topic, payload, retain, stop) is { } refused) throw new InvalidOperationException(refused);
    }

    public async ValueTask DisposeAsync()
    {
        _outbox.Appended -= Wake;
        _client.Dispose();
        _wake.Dispose();
        await Task.CompletedTask;
    }
}
