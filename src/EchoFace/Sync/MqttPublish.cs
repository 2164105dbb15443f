using MQTTnet;
using MQTTnet.Protocol;

namespace EchoFace.Sync;

/// <summary>How every EchoFace client publishes: JSON with QoS 1, and the broker's refusal named.</summary>
public static class MqttPublish
{
    /// <summary>Publishes and waits for the PUBACK; null when the broker took the message, else why it did not.</summary>
    public static async Task<string?> JsonAsync(this IMqttClient client, string topic, byte[] payload, bool retain, CancellationToken cancel)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithContentType("application/json").Build();
        var result = await client.PublishAsync(message, cancel);
        // MQTT 5: "no matching subscribers" is still the broker taking responsibility for the message
        return result.ReasonCode is MqttClientPublishReasonCode.Success or MqttClientPublishReasonCode.NoMatchingSubscribers
            ? null : $"the broker refused {topic}: {result.ReasonCode} {result.ReasonString}";
    }
}
