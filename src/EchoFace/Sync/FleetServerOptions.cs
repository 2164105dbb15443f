namespace EchoFace.Sync;

/// <summary>
/// `echoface fleet serve`: where the fleet's history is kept (PostgreSQL) and how a collector takes its share of the devices'
/// traffic. The broker and its credentials are Fleet's (the same section the devices use).
/// </summary>
public sealed class FleetServerOptions
{
    /// <summary>Npgsql connection string, e.g. "Host=db;Database=echoface;Username=echoface"; the password best in DatabasePasswordFile.</summary>
    public string? Database { get; set; }
    /// <summary>A file holding the database password (a systemd credential), read at each connection.</summary>
    public string? DatabasePasswordFile { get; set; }
    /// <summary>The MQTT shared-subscription group: collectors in one group split the devices' messages between them.</summary>
    public string Group { get; set; } = "echoface-collectors";
    /// <summary>This collector's MQTT client id (its persistent session on the broker); default: collector-HOSTNAME.</summary>
    public string? CollectorId { get; set; }
    /// <summary>Most messages committed in one transaction.</summary>
    public int BatchSize { get; set; } = 1000;
    /// <summary>How long a partial batch waits for more before it is committed.</summary>
    public int BatchMilliseconds { get; set; } = 20;
    /// <summary>Messages the broker may send before it must wait for acknowledgements (MQTT 5 Receive Maximum).</summary>
    public int ReceiveMaximum { get; set; } = 4000;
    /// <summary>How long the broker keeps this collector's session (and queues for it) while it is away.</summary>
    public int SessionExpiryHours { get; set; } = 168;
    /// <summary>A larger event or document is refused (counted, never stored as valid).</summary>
    public int MaxMessageBytes { get; set; } = 262_144;
    /// <summary>The fleet read API and /healthz (e.g. http://127.0.0.1:9470); none when unset. Keys: `echoface api-key create` there.</summary>
    public string? Listen { get; set; }
    /// <summary>Telemetry documents kept per device (the latest is also on the device's row).</summary>
    public int TelemetryHistory { get; set; } = 1440;
    /// <summary>How often the store is checked for enrolments, removals and rollout steps owed to devices.</summary>
    public int DispatchMilliseconds { get; set; } = 1000;
    /// <summary>An enrolment or configuration a device has not answered is sent again after this long (while it is online).</summary>
    public int ResendSeconds { get; set; } = 60;

    public string Collector => string.IsNullOrWhiteSpace(CollectorId) ? $"collector-{Environment.MachineName.ToLowerInvariant()}" : CollectorId;

    public void Validate()
    {
        Range(nameof(BatchSize), BatchSize, 1, 50_000);
        Range(nameof(BatchMilliseconds), BatchMilliseconds, 0, 10_000);
        Range(nameof(ReceiveMaximum), ReceiveMaximum, 1, 65_535);
        Range(nameof(SessionExpiryHours), SessionExpiryHours, 1, 8760);
        Range(nameof(MaxMessageBytes), MaxMessageBytes, 1024, 16_777_216);
        Range(nameof(TelemetryHistory), TelemetryHistory, 1, 1_000_000);
        Range(nameof(DispatchMilliseconds), DispatchMilliseconds, 50, 60_000);
        Range(nameof(ResendSeconds), ResendSeconds, 5, 86_400);
        if (string.IsNullOrWhiteSpace(Group) || Group.IndexOfAny(['/', '+', '#']) >= 0)
            throw new ArgumentException($"FleetServer.Group must be a name without '/', '+' or '#', not '{Group}'");
        if (Listen is not null && (!Uri.TryCreate(Listen, UriKind.Absolute, out var listen) || listen.Scheme is not ("http" or "https")))
            throw new ArgumentException($"FleetServer.Listen must be http://host:port or https://host:port, not '{Listen}'");
        if (DatabasePasswordFile is not null && !File.Exists(DatabasePasswordFile))
            throw new ArgumentException($"FleetServer.DatabasePasswordFile {DatabasePasswordFile} does not exist");
    }

    private static void Range(string name, int value, int min, int max)
    {
        if (value < min || value > max) throw new ArgumentException($"FleetServer.{name} must be {min}..{max}, not {value}");
    }

    /// <summary>The connection string in force, or a clear error when the fleet server has no database configured.</summary>
    public string ConnectionString()
    {
        if (string.IsNullOrWhiteSpace(Database))
            throw new BadInputException("FleetServer.Database is not set: give the PostgreSQL connection string (docs/fleet-server.md), " +
                                        "e.g. ECHOFACE__FleetServer__Database='Host=127.0.0.1;Database=echoface;Username=echoface'");
        if (DatabasePasswordFile is null) return Database;
        var password = File.ReadAllText(DatabasePasswordFile).TrimEnd('\r', '\n');
        return $"{Database};Password={password}";
    }
}
