using System.Security.Cryptography;
using System.Text.Json;

namespace EchoFace.Fleet;

/// <summary>
/// What a device's message is, once read: an event, a status, telemetry, a configuration report, an enrolment's answer, or refused
/// with why. Cleared: an empty retained message (a topic's retained document removed), taken and acknowledged, nothing stored.
/// </summary>
public enum MessageKind { Event, Status, Telemetry, ConfigReport, EnrollResult, Refused, Cleared }

/// <summary>
/// One message from a device as the collector stores it. Devices are peers on a shared broker, so each document is checked
/// against its topic: an event's id must be a ULID, its site, device and kind the topic's; a status must name the device of its topic.
/// </summary>
public sealed record IncomingMessage(MessageKind Kind, string Topic, string Site, string Device, string Body, string? Reason = null)
{
    public string Id { get; init; } = "";
    public string EventKind { get; init; } = "";
    public string? Door { get; init; }
    public string? Outcome { get; init; }
    public string? Identity { get; init; }
    public DateTimeOffset At { get; init; }
    public byte[] Hash { get; init; } = [];
    public int Bytes { get; init; }

    /// <summary>For a status: online or offline; for a report: its status.</summary>
    public string State { get; init; } = "";
    public string? Version { get; init; }
    public string? Provider { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public long? ConfigVersion { get; init; }
    public string? Error { get; init; }
    /// <summary>For a status: the device's group and the face models it takes templates of.</summary>
    public string? Group { get; init; }
    public string[]? FaceModels { get; init; }
    /// <summary>For an enrolment's answer: the request it answers and how many templates it stored.</summary>
    public string? RequestId { get; init; }
    public int? Templates { get; init; }

    public static IncomingMessage Refuse(string topic, ReadOnlySpan<byte> payload, string reason) =>
        new(MessageKind.Refused, topic, "", "", Sample(payload), reason) { Bytes = payload.Length };

    /// <summary>Reads a message from its topic and payload; never throws for what a device sent.</summary>
    public static IncomingMessage Read(string topic, ReadOnlyMemory<byte> message, int maxBytes)
    {
        var payload = message.Span;
        if (payload.Length > maxBytes) return Refuse(topic, payload, $"{payload.Length} bytes, over FleetServer.MaxMessageBytes {maxBytes}");
        if (payload.Length == 0) return new(MessageKind.Cleared, topic, "", "", "");
        var parts = topic.Split('/');
        if (parts.Length < 4 || parts[0] != "echoface") return Refuse(topic, payload, "not an echoface device topic");
        var (site, device, leaf) = (parts[1], parts[2], string.Join('/', parts[3..]));
        JsonElement doc;
        try
        {
            using var parsed = JsonDocument.Parse(message);
            doc = parsed.RootElement.Clone();
        }
        catch (JsonException e) { return Refuse(topic, payload, $"not JSON: {e.Message}"); }
        if (doc.ValueKind != JsonValueKind.Object) return Refuse(topic, payload, $"a JSON {doc.ValueKind}, not an object");
        var body = System.Text.Encoding.UTF8.GetString(payload);
        try
        {
            return leaf switch
            {
                _ when leaf.StartsWith("events/", StringComparison.Ordinal) && parts.Length == 5 =>
                    Event(topic, site, device, parts[4], doc, body, payload),
                "status" => Status(topic, site, device, doc, body),
                "telemetry" => new(MessageKind.Telemetry, topic, site, device, body) { Bytes = payload.Length },
                "config/reported" => new(MessageKind.ConfigReport, topic, site, device, body)
                {
                    Bytes = payload.Length, State = Text(doc, "status") ?? throw new FormatException("no status"),
                    ConfigVersion = doc.TryGetProperty("version", out var v) && v.TryGetInt64(out var n) ? n : null, Error = Text(doc, "error"),
                },
                "enroll/result" => new(MessageKind.EnrollResult, topic, site, device, body)
                {
                    Bytes = payload.Length, State = Text(doc, "status") ?? throw new FormatException("no status"), Error = Text(doc, "error"),
                    RequestId = Text(doc, "requestId") ?? throw new FormatException("an enrolment answer without a requestId"),
                    Templates = doc.TryGetProperty("templates", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt32(out var count)
                        ? count : null,
                },
                _ => Refuse(topic, payload, $"no collector handles '{leaf}'"),
            };
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return Refuse(topic, payload, e.Message);
        }
    }

    private static IncomingMessage Event(string topic, string site, string device, string kind, JsonElement doc, string body, ReadOnlySpan<byte> raw)
    {
        var id = Text(doc, "id") ?? throw new FormatException("event without an id");
        if (!Ulid.TryParse(id, out _)) throw new FormatException($"event id '{Clip(id)}' is not a ULID");
        if (Text(doc, "kind") != kind) throw new FormatException($"event kind '{Clip(Text(doc, "kind"))}' is not its topic's '{kind}'");
        if (Text(doc, "site") != site || Text(doc, "device") != device)
            throw new FormatException($"event names {Clip(Text(doc, "site"))}/{Clip(Text(doc, "device"))}, its topic {site}/{device}");
        if (!DateTimeOffset.TryParse(Text(doc, "at"), System.Globalization.CultureInfo.InvariantCulture, out var at))
            throw new FormatException("event without a valid 'at' time");
        var data = doc.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : default;
        return new(MessageKind.Event, topic, site, device, body)
        {
            Id = id, EventKind = kind, At = at, Door = Text(doc, "door"), Bytes = raw.Length, Hash = SHA256.HashData(raw),
            Outcome = data.ValueKind == JsonValueKind.Object ? Text(data, "outcome") : null,
            Identity = data.ValueKind == JsonValueKind.Object ? Text(data, "identity") : null,
        };
    }

    private static IncomingMessage Status(string topic, string site, string device, JsonElement doc, string body)
    {
        if (Text(doc, "device") != device || Text(doc, "site") is { } s && s != site)
            throw new FormatException($"status for {Clip(Text(doc, "site"))}/{Clip(Text(doc, "device"))} on the topic of {site}/{device}");
        var state = Text(doc, "state");
        if (state is not ("online" or "offline")) throw new FormatException($"status state '{Clip(state)}' is neither online nor offline");
        var details = doc.TryGetProperty("details", out var dt) && dt.ValueKind == JsonValueKind.Object ? dt : default;
        return new(MessageKind.Status, topic, site, device, body)
        {
            State = state, Version = Text(doc, "version"), Group = Text(doc, "group"),
            Provider = details.ValueKind == JsonValueKind.Object ? Text(details, "provider") : null,
            FaceModels = details.ValueKind == JsonValueKind.Object && details.TryGetProperty("faceModels", out var fm)
                                                                   && fm.ValueKind == JsonValueKind.Array
                ? [.. fm.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.String).Select(m => m.GetString()!)] : null,
            StartedAt = DateTimeOffset.TryParse(Text(doc, "startedAt"), System.Globalization.CultureInfo.InvariantCulture, out var st) ? st : null,
        };
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => v.GetRawText(),
        } : null;

    private static string Clip(string? s) => s is null ? "(none)" : s.Length > 60 ? s[..60] + "..." : s;

    /// <summary>The first 2 KiB of a refused payload, as text, for whoever looks into why.</summary>
    private static string Sample(ReadOnlySpan<byte> payload) =>
        System.Text.Encoding.UTF8.GetString(payload[..Math.Min(payload.Length, 2048)]).Replace('\0', '?');
}
