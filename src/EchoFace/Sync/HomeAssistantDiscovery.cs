using System.Text.Json.Nodes;

namespace EchoFace.Sync;

/// <summary>Home Assistant MQTT discovery (opt-in): the door appears there as a lock, a door sensor, a person sensor and an event.</summary>
public sealed class HomeAssistantOptions
{
    public bool Enabled { get; set; }
    /// <summary>Home Assistant's discovery prefix (its MQTT integration's setting).</summary>
    public string Prefix { get; set; } = "homeassistant";
    /// <summary>The name Home Assistant shows for the device (default: the device id).</summary>
    public string? Name { get; set; }
    /// <summary>How long the last person let in stays on the person sensor before it is cleared.</summary>
    public double PersonSeconds { get; set; } = 30;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Prefix) || Prefix.IndexOfAny(['+', '#']) >= 0 || Prefix.EndsWith('/'))
            throw new ArgumentException($"Fleet.HomeAssistant.Prefix must be a topic prefix without '+', '#' or a trailing '/', not '{Prefix}'");
        if (PersonSeconds is < 1 or > 86_400) throw new ArgumentException($"Fleet.HomeAssistant.PersonSeconds must be 1..86400, not {PersonSeconds}");
    }
}

/// <summary>
/// The discovery documents (retained, `PREFIX/COMPONENT/UNIQUE_ID/config`) and the state topics they point at, under the device's
/// own tree. Availability is the device's retained status (online, or offline by its Last Will), so Home Assistant greys the
/// entities out when the device is gone.
/// </summary>
public sealed class HomeAssistantDiscovery(HomeAssistantOptions options, FleetTopics topics, string site, string device, string? version)
{
    public const string Unlock = "UNLOCK", Open = "OPEN", Lock = "LOCK";
    private string Id => $"echoface_{Clean(site)}_{Clean(device)}";

    public string LockState => $"{topics.Base}/ha/lock/state";
    public string LockCommand => $"{topics.Base}/ha/lock/set";
    public string LockAttributes => $"{topics.Base}/ha/lock/attributes";
    public string DoorState => $"{topics.Base}/ha/door/state";
    public string PersonState => $"{topics.Base}/ha/person/state";
    public string AccessEvent => $"{topics.Base}/ha/access/event";
    public string HomeAssistantStatus => $"{options.Prefix}/status";

    /// <summary>Every discovery document by its config topic.</summary>
    public IReadOnlyList<(string Topic, JsonObject Config)> Documents() =>
    [
        Doc("lock", "lock", "Door lock", new JsonObject
        {
            ["command_topic"] = LockCommand, ["state_topic"] = LockState, ["json_attributes_topic"] = LockAttributes,
            ["payload_lock"] = Lock, ["payload_unlock"] = Unlock, ["payload_open"] = Open,
            ["state_locked"] = "LOCKED", ["state_unlocked"] = "UNLOCKED", ["state_jammed"] = "JAMMED", ["optimistic"] = false,
        }),
        Doc("binary_sensor", "door", "Door", new JsonObject
        {
            ["state_topic"] = DoorState, ["device_class"] = "door", ["payload_on"] = "ON", ["payload_off"] = "OFF",
        }),
        Doc("sensor", "person", "Last person let in", new JsonObject { ["state_topic"] = PersonState, ["icon"] = "mdi:account-check" }),
        Doc("event", "access", "Access", new JsonObject
        {
            ["state_topic"] = AccessEvent, ["event_types"] = new JsonArray("granted", "denied"),
        }),
    ];

    private (string, JsonObject) Doc(string component, string key, string name, JsonObject fields)
    {
        var uniqueId = $"{Id}_{key}";
        fields["name"] = name;
        fields["unique_id"] = uniqueId;
        fields["object_id"] = uniqueId;
        fields["availability"] = new JsonArray(new JsonObject
        {
            ["topic"] = topics.Status, ["value_template"] = "{{ value_json.state }}", ["payload_available"] = "online",
            ["payload_not_available"] = "offline",
        });
        fields["device"] = new JsonObject
        {
            ["identifiers"] = new JsonArray(Id), ["name"] = options.Name ?? device, ["manufacturer"] = "EchoFace",
            ["model"] = "door terminal", ["sw_version"] = version, ["suggested_area"] = site,
        };
        fields["qos"] = 1;
        return ($"{options.Prefix}/{component}/{uniqueId}/config", fields);
    }

    /// <summary>Home Assistant's ids allow [a-zA-Z0-9_-] only.</summary>
    private static string Clean(string s) => new([.. s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_')]);
}
