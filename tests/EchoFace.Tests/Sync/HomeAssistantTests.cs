using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using EchoFace.Sync;
using MQTTnet;
using MQTTnet.Protocol;

namespace EchoFace.Tests.Sync;

/// <summary>
/// Home Assistant discovery from a running daemon on a real broker: the documents carry the fields Home Assistant's MQTT
/// integration requires, availability follows the device's status, unlock goes through the remote-unlock path, and the documents
/// come again when Home Assistant says it is online.
/// </summary>
[Trait("Category", "Slow")]
public sealed class HomeAssistantTests : IAsyncDisposable
{
    private readonly Mosquitto _broker = new();
    private readonly IMqttClient _ha = new MqttClientFactory().CreateMqttClient();
    private readonly ConcurrentDictionary<string, string> _last = new();
    private readonly ConcurrentQueue<(string Topic, string Payload)> _seen = new();

    public async ValueTask DisposeAsync()
    {
        _ha.Dispose();
        _broker.Dispose();
        await Task.CompletedTask;
    }

    private async Task ConnectHomeAssistantAsync()
    {
        _ha.ApplicationMessageReceivedAsync += e =>
        {
            var text = Encoding.UTF8.GetString(e.ApplicationMessage.Payload);
            _last[e.ApplicationMessage.Topic] = text;
            _seen.Enqueue((e.ApplicationMessage.Topic, text));
            return Task.CompletedTask;
        };
        await _ha.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _broker.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
        await _ha.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("homeassistant/+/+/config", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("echoface/lab/door-ha/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
    }

    private Task PublishAsync(string topic, string payload, bool retain = false) =>
        _ha.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload)).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private Dictionary<string, JsonElement> Configs() => _last
        .Where(kv => kv.Key.EndsWith("/config", StringComparison.Ordinal) && kv.Value.Length > 0)
        .ToDictionary(kv => kv.Key.Split('/')[1], kv => JsonDocument.Parse(kv.Value).RootElement.Clone());

    [Fact]
    public async Task The_door_appears_in_Home_Assistant_and_unlocks_from_it()
    {
        await ConnectHomeAssistantAsync();
        using var daemon = new DaemonProcess(_broker, TestEnvironment.TempDirectory(), "door-ha", new Dictionary<string, string>
        {
            ["ECHOFACE__Fleet__HomeAssistant__Enabled"] = "true", ["ECHOFACE__Door__UnlockSeconds"] = "1",
        });
        daemon.WaitFor("Home Assistant discovery published", "no discovery");
        Eventually.True(() => Configs().Count == 4, "four discovery documents", context: () => string.Join("\n", _last.Keys));
        var configs = Configs();
        // the fields Home Assistant's MQTT integration requires of each platform, and the ones every entity here carries
        var required = new Dictionary<string, string[]>
        {
            ["lock"] = ["command_topic", "state_topic"], ["binary_sensor"] = ["state_topic"], ["sensor"] = ["state_topic"],
            ["event"] = ["state_topic", "event_types"],
        };
        foreach (var (component, fields) in required)
        {
            var c = configs[component];
            foreach (var f in fields.Concat(["unique_id", "name", "device", "availability"]))
                Assert.True(c.TryGetProperty(f, out _), $"{component} lacks {f}");
            Assert.Equal("echoface/lab/door-ha/status", c.GetProperty("availability")[0].GetProperty("topic").GetString());
            Assert.Equal("online", c.GetProperty("availability")[0].GetProperty("payload_available").GetString());
            Assert.Equal("echoface_lab_door-ha", c.GetProperty("device").GetProperty("identifiers")[0].GetString());
        }
        Assert.Equal(["granted", "denied"], configs["event"].GetProperty("event_types").EnumerateArray().Select(e => e.GetString()));
        var lockState = configs["lock"].GetProperty("state_topic").GetString()!;
        Eventually.True(() => _last.GetValueOrDefault(lockState) == "LOCKED", "the lock reported LOCKED");
        Assert.Equal("OFF", _last[configs["binary_sensor"].GetProperty("state_topic").GetString()!]);

        // unlock from Home Assistant: the same path as cmd/unlock, audited with its reason, relocked after Door.UnlockSeconds
        await PublishAsync(configs["lock"].GetProperty("command_topic").GetString()!, "UNLOCK");
        Eventually.True(() => _seen.Any(s => s.Topic == lockState && s.Payload == "UNLOCKED"), "UNLOCKED after the command");
        Eventually.True(() => _seen.Any(s => s.Topic.EndsWith("/events/access", StringComparison.Ordinal) && s.Payload.Contains("remote_unlock")
                                               && s.Payload.Contains("Home Assistant")), "the unlock audited as an access event");
        Eventually.True(() => _last[lockState] == "LOCKED", "locked again after 1 s");
        Assert.Contains("\"result\":\"done\"", _last["echoface/lab/door-ha/ha/lock/attributes"]);

        // Home Assistant restarted: the documents come again (removed here first so their return is seen)
        foreach (var topic in _last.Keys.Where(k => k.StartsWith("homeassistant/", StringComparison.Ordinal)).ToList())
            await PublishAsync(topic, "", retain: true);
        Eventually.True(() => Configs().Count == 0, "documents removed");
        await PublishAsync("homeassistant/status", "online");
        Eventually.True(() => Configs().Count == 4, "documents published again after homeassistant/status online");

        Assert.True(daemon.Stop(), daemon.Log);
        Eventually.True(() => _last.GetValueOrDefault("echoface/lab/door-ha/status")?.Contains("offline") == true,
            "offline: Home Assistant greys it out");
    }

    [Fact]
    public void Options_are_checked()
    {
        Assert.Throws<ArgumentException>(() => new HomeAssistantOptions { Prefix = "ha/#" }.Validate());
        Assert.Throws<ArgumentException>(() => new HomeAssistantOptions { PersonSeconds = 0 }.Validate());
        new HomeAssistantOptions().Validate();
    }
}
