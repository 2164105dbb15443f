using System.Text.Json;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Protocol;

namespace EchoFace.Sync;

/// <summary>A message seen by a fleet manager: its topic and JSON payload.</summary>
public sealed record FleetMessage(string Topic, JsonElement Payload, bool Retained);

/// <summary>The fleet manager's side of the link (`echoface fleet ...`): connect as a manager, subscribe, read what devices publish.</summary>
public sealed class FleetClient : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly Channel<FleetMessage> _messages = Channel.CreateUnbounded<FleetMessage>();

    public long Malformed { get; private set; }

    public static async Task<FleetClient> ConnectAsync(FleetOptions o, CancellationToken cancel)
    {
        var c = new FleetClient();
        c._client.ApplicationMessageReceivedAsync += e =>
        {
            try
            {
                var json = JsonDocument.Parse(e.ApplicationMessage.Payload).RootElement.Clone();
                c._messages.Writer.TryWrite(new FleetMessage(e.ApplicationMessage.Topic, json, e.ApplicationMessage.Retain));
            }
            catch (JsonException) { c.Malformed++; }
            return Task.CompletedTask;
        };
        // the options inside the try: reading Fleet.PasswordFile can fail too, and is reported like the broker's refusal
        var certificate = o.Tls ? o.CertificateCheck(TimeProvider.System) : null;
        var options = o.ClientOptions($"echoface-fleet-{Guid.NewGuid():N}"[..30], certificate);
        try { o.EnsureAccepted(await c._client.ConnectAsync(options.Build(), cancel)); }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Adapter.MqttConnectingFailedException or OperationCanceledException
                                      or InvalidOperationException)
        {
            await c.DisposeAsync();
            throw new ToolException($"cannot reach the broker {o.Broker}: {certificate?.LastFailure ?? e.Message}");
        }
        return c;
    }

    public Task SubscribeAsync(string filter, CancellationToken cancel) =>
        _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancel);

    public ChannelReader<FleetMessage> Messages => _messages.Reader;

    public Task PublishRetainedAsync(string topic, byte[] payload, CancellationToken cancel) => PublishAsync(topic, payload, retain: true, cancel);

    public async Task PublishAsync(string topic, byte[] payload, bool retain, CancellationToken cancel)
    {
        if (await _client.JsonAsync(topic, payload, retain, cancel) is { } refused) throw new ToolException(refused);
    }

    /// <summary>Whatever arrives until <paramref name="quiet"/> passes without a message (retained messages come at once), or <paramref name="limit"/>.</summary>
    public async Task<List<FleetMessage>> CollectAsync(TimeSpan quiet, TimeSpan limit, CancellationToken cancel)
    {
        var list = new List<FleetMessage>();
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        total.CancelAfter(limit);
        try
        {
            while (true)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(total.Token);
                idle.CancelAfter(quiet);
                list.Add(await _messages.Reader.ReadAsync(idle.Token));
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { }
        return list;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
            try { await _client.DisconnectAsync(); } catch (MQTTnet.Exceptions.MqttCommunicationException) { }
        _client.Dispose();
    }
}
