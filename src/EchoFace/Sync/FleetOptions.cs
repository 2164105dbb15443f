using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace EchoFace.Sync;

/// <summary>The fleet link: the MQTT broker, this device's place in the topic tree, and how it reconnects.</summary>
public sealed class FleetOptions
{
    public bool Enabled { get; set; }
    /// <summary>mqtt://host:1883 or mqtts://host:8883 (TLS).</summary>
    public string Broker { get; set; } = "mqtt://127.0.0.1:1883";
    public string Site { get; set; } = "default";
    /// <summary>The device group the fleet server enrols people and rolls configuration out for (docs/fleet-server.md).</summary>
    public string Group { get; set; } = "default";
    /// <summary>Client id and topic segment; default: the machine's host name.</summary>
    public string? DeviceId { get; set; }
    public string? Username { get; set; }
    /// <summary>In the configuration file in plain text (0640): prefer PasswordFile.</summary>
    public string? Password { get; set; }
    /// <summary>
    /// A file holding the password, read at each connection (a trailing newline is ignored): e.g. a systemd credential sealed to
    /// the TPM, /run/credentials/echoface.service/fleet-password, so no secret sits in echoface.json.
    /// </summary>
    public string? PasswordFile { get; set; }
    /// <summary>PEM file of the CA that signed the broker's certificate (mqtts; default: the system's trust store).</summary>
    public string? CaFile { get; set; }
    /// <summary>PEM client certificate and key, for brokers that authenticate devices by certificate.</summary>
    public string? CertFile { get; set; }
    public string? KeyFile { get; set; }
    public int KeepAliveSeconds { get; set; } = 30;
    public double ReconnectMinSeconds { get; set; } = 1;
    public double ReconnectMaxSeconds { get; set; } = 60;
    /// <summary>Most events the outbox keeps (sent ones are dropped first, then unsent status/prompt/fault, access and alarms last).</summary>
    public long OutboxMaxEvents { get; set; } = 200_000;
    /// <summary>Seconds between telemetry messages (fps, latencies, outbox depth, gallery size, provider, temperature).</summary>
    public double TelemetrySeconds { get; set; } = 60;
    /// <summary>Events published per round before their acknowledgements are awaited and recorded together.</summary>
    public int Window { get; set; } = 200;
    /// <summary>MQTT discovery for Home Assistant (docs/fleet.md): the door as a lock, a door sensor, a person sensor, an event.</summary>
    public HomeAssistantOptions HomeAssistant { get; set; } = new();

    public string Device => string.IsNullOrWhiteSpace(DeviceId) ? Environment.MachineName.ToLowerInvariant() : DeviceId;
    public Uri BrokerUri => new(Broker);
    public bool Tls => BrokerUri.Scheme == "mqtts";

    /// <summary>
    /// MQTTnet 5 returns a refused CONNACK (bad credentials, an account the broker does not know) instead of throwing: without this
    /// check the client looks connected and every later call fails with "not connected".
    /// </summary>
    public void EnsureAccepted(MqttClientConnectResult result)
    {
        if (result.ResultCode != MqttClientConnectResultCode.Success)
            throw new InvalidOperationException($"the broker {Broker} refused the connection: {result.ResultCode}{(string.IsNullOrEmpty(result.ReasonString) ? "" : $" ({result.ReasonString})")}" +
                (result.ResultCode is MqttClientConnectResultCode.NotAuthorized or MqttClientConnectResultCode.BadUserNameOrPassword ? $"; check Fleet.Username and {(PasswordFile is null ? "Fleet.Password" : $"the password in Fleet.PasswordFile {PasswordFile}")}" : ""));
    }

    /// <summary>How to reach the broker (address, MQTT 5, credentials, TLS trust and client certificate): shared by the device link and the fleet client.</summary>
    /// <param name="certificate">checks the broker's certificate and keeps why it was refused (default: a new check on the system clock)</param>
    public MqttClientOptionsBuilder ClientOptions(string clientId, BrokerCertificate? certificate = null)
    {
        var uri = BrokerUri;
        var b = new MqttClientOptionsBuilder()
            .WithTcpServer(uri.Host, uri.IsDefaultPort || uri.Port <= 0 ? (Tls ? 8883 : 1883) : uri.Port)
            .WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (Username is not null) b.WithCredentials(Username, Secret() ?? "");
        if (Tls)
        {
            var check = certificate ?? CertificateCheck(TimeProvider.System);
            b.WithTlsOptions(t =>
            {
                t.UseTls(true).WithTargetHost(uri.Host).WithCertificateValidationHandler(check.Validate);
                if (CertFile is not null) t.WithClientCertificates([X509Certificate2.CreateFromPemFile(CertFile, KeyFile)]);
            });
        }
        return b;
    }

    /// <summary>The broker certificate's check: against Fleet.CaFile when set, else the system's roots.</summary>
    public BrokerCertificate CertificateCheck(TimeProvider clock)
    {
        X509Certificate2Collection? roots = null;
        if (CaFile is not null)
        {
            roots = [];
            try { roots.ImportFromPemFile(CaFile); }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
            {
                throw new ArgumentException($"Fleet.CaFile {CaFile} cannot be read as PEM certificates: {e.Message}");
            }
            if (roots.Count == 0) throw new ArgumentException($"Fleet.CaFile {CaFile} holds no PEM certificate");
        }
        return new BrokerCertificate(BrokerUri.Host, roots, clock);
    }

    /// <summary>The password in force: the file's (read now, so a rotated credential is used at the next reconnection) or the setting's.</summary>
    private string? Secret()
    {
        if (PasswordFile is null) return Password;
        try
        {
            var secret = File.ReadAllText(PasswordFile).TrimEnd('\r', '\n');
            return secret.Length > 0 ? secret : throw new InvalidOperationException($"Fleet.PasswordFile {PasswordFile} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Fleet.PasswordFile {PasswordFile} cannot be read: {e.Message}");
        }
    }

    public void Validate()
    {
        if (!Uri.TryCreate(Broker, UriKind.Absolute, out var uri) || uri.Scheme is not ("mqtt" or "mqtts"))
            throw new ArgumentException($"Fleet.Broker must be mqtt://host:port or mqtts://host:port, not '{Broker}'");
        foreach (var (name, value) in new[] { ("Fleet.Site", Site), ("Fleet.DeviceId", Device), ("Fleet.Group", Group) })
            if (string.IsNullOrWhiteSpace(value) || value.IndexOfAny(['/', '+', '#', ' ']) >= 0)
                throw new ArgumentException($"{name} '{value}' must be non-empty without '/', '+', '#' or spaces (it is a topic segment)");
        if (Site == "_all") throw new ArgumentException("Fleet.Site '_all' is reserved for group settings");
        foreach (var (name, file) in new[] { ("Fleet.CaFile", CaFile), ("Fleet.CertFile", CertFile), ("Fleet.KeyFile", KeyFile) })
            if (file is not null && Enabled && !File.Exists(file)) throw new ArgumentException($"{name} {file} does not exist");
        if (Password is not null && PasswordFile is not null) throw new ArgumentException("Fleet.Password and Fleet.PasswordFile are two places for one secret: set one");
        if (PasswordFile is not null && Enabled && !File.Exists(PasswordFile)) throw new ArgumentException($"Fleet.PasswordFile {PasswordFile} does not exist");
        if ((CertFile is null) != (KeyFile is null)) throw new ArgumentException("Fleet.CertFile and Fleet.KeyFile go together");
        if (KeepAliveSeconds is < 5 or > 3600) throw new ArgumentException($"Fleet.KeepAliveSeconds must be 5..3600, not {KeepAliveSeconds}");
        if (ReconnectMinSeconds <= 0 || ReconnectMaxSeconds < ReconnectMinSeconds) throw new ArgumentException("Fleet.ReconnectMinSeconds must be > 0 and ReconnectMaxSeconds >= it");
        if (OutboxMaxEvents is < 1000 or > 100_000_000) throw new ArgumentException($"Fleet.OutboxMaxEvents must be 1000..100000000, not {OutboxMaxEvents}");
        if (TelemetrySeconds is < 1 or > 86400) throw new ArgumentException($"Fleet.TelemetrySeconds must be 1..86400, not {TelemetrySeconds}");
        if (Window is < 1 or > 10_000) throw new ArgumentException($"Fleet.Window must be 1..10000, not {Window}");
        HomeAssistant.Validate();
    }
}

/// <summary>The topic tree (docs/fleet.md): echoface/{site}/{device}/..., group settings under echoface/{site}/_all/.</summary>
public sealed class FleetTopics(string site, string device)
{
    public string Base { get; } = $"echoface/{site}/{device}";
    public string Status => $"{Base}/status";
    public string Event(string kind) => $"{Base}/events/{kind}";
    public string Telemetry => $"{Base}/telemetry";
    public string ConfigDesired => $"{Base}/config/desired";
    public string GroupConfigDesired => $"{Base[..Base.LastIndexOf('/')]}/_all/config/desired";
    public string ConfigReported => $"{Base}/config/reported";
    public string Commands => $"{Base}/cmd/+";
    public string EnrollSet => $"{Base}/enroll/set";
    public string EnrollResult => $"{Base}/enroll/result";
    public string RecommendationsSet => $"{Base}/recommendations/set";
    public string RecommendationsResult => $"{Base}/recommendations/result";
    public static string DeviceTopic(string site, string device, string leaf) => $"echoface/{site}/{device}/{leaf}";
    public string CommandResult(string name) => $"{Base}/cmd/{name}/result";
    public static string Desired(string site, string? device) => $"echoface/{site}/{device ?? "_all"}/config/desired";
    public static string AllReported(string site) => $"echoface/{site}/+/config/reported";
    public static string AllStatus(string site) => $"echoface/{site}/+/status";
    public static string AllEvents(string site, string device = "+") => $"echoface/{site}/{device}/events/#";
}
