using EchoFace.Access;
using EchoFace.Face;
using EchoFace.Hardware;
using EchoFace.Gallery;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Sync;
using EchoFace.Voice;
using Microsoft.Extensions.Configuration;

namespace EchoFace.Configuration;

public sealed class StorageOptions
{
    /// <summary>Template key file; relative paths are under the data directory.</summary>
    public string KeyFile { get; set; } = "template.key";
    public string Database { get; set; } = "echoface.db";
    /// <summary>Below this much free space under the data directory, snapshots stop and acknowledged events are pruned.</summary>
    public int MinFreeMegabytes { get; set; } = 64;
    /// <summary>A file of this size kept in the data directory and given up when a write fails for space (room to recover in).</summary>
    public int ReserveMegabytes { get; set; } = 8;
    /// <summary>
    /// SQLite's synchronous mode for the outbox and the door state: FULL (a decision reported stored survives a power cut) or NORMAL
    /// (faster; the last commits before a power cut may be lost). Measured in docs/faults.md.
    /// </summary>
    public string OutboxSynchronous { get; set; } = "FULL";

    public void Validate()
    {
        if (MinFreeMegabytes is < 0 or > 1_000_000)
            throw new ArgumentException($"Storage.MinFreeMegabytes must be 0..1000000, not {MinFreeMegabytes}");
        if (OutboxSynchronous is not ("FULL" or "NORMAL"))
            throw new ArgumentException($"Storage.OutboxSynchronous must be FULL or NORMAL, not '{OutboxSynchronous}'");
        if (ReserveMegabytes is < 0 or > 4096) throw new ArgumentException($"Storage.ReserveMegabytes must be 0..4096, not {ReserveMegabytes}");
    }
}

public sealed class MicrophoneOptions
{
    /// <summary>alsa:DEVICE (e.g. alsa:default, alsa:hw:1,0), pulse:DEVICE, file:PATH, or none; opened only during a voice step-up.</summary>
    public string Source { get; set; } = "none";
}

public sealed class HealthOptions
{
    /// <summary>Where /healthz and /metrics listen; loopback by default.</summary>
    public string Listen { get; set; } = "http://127.0.0.1:9464";

    public void Validate()
    {
        if ((!Uri.TryCreate(Listen, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            throw new ArgumentException($"Health.Listen must be an http:// address such as http://127.0.0.1:9464 (port 0: any free port), not '{Listen}'");
    }
}

/// <summary>The HTTP API (`/v1/...`), served on <see cref="HealthOptions.Listen"/> beside /healthz and /metrics.</summary>
public sealed class ApiOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>The web console at /console (docs/console.md): the API's keys, signed in for a session cookie.</summary>
    public bool Console { get; set; } = true;
    /// <summary>A console session ends after this long without a request (and at the latest after 12 hours).</summary>
    public int ConsoleSessionMinutes { get; set; } = 30;
    /// <summary>Requests a key may make per minute (a token bucket refilled every second); over it, 429 with Retry-After.</summary>
    public int RequestsPerMinute { get; set; } = 600;
    /// <summary>Face pipelines the API runs requests on, beside the door's own (each holds its models once).</summary>
    public int Workers { get; set; } = 2;
    /// <summary>PEM certificate and key for https:// listening; required when Health.Listen is not a loopback address.</summary>
    public string? CertificateFile { get; set; }
    public string? KeyFile { get; set; }
    /// <summary>
    /// What an embedder switched to over PUT /v1/models/active may take on one thread, timed before the switch: the whole face
    /// path's 30 ms less the other stages' ~16.5 ms, and a 3 s voice check's 100 ms less decoding and VAD (docs/benchmarks.md).
    /// </summary>
    public double FaceEmbedBudgetMs { get; set; } = 13.5;
    public double VoiceEmbedBudgetMs { get; set; } = 85;
    /// <summary>Connections Kestrel holds at once (a board's memory and file descriptors are few); beyond it new ones wait in the kernel.</summary>
    public int MaxConnections { get; set; } = 128;
    /// <summary>A client has this long to send its request headers, and an idle keep-alive connection is closed after it.</summary>
    public int RequestHeadersSeconds { get; set; } = 10;

    public void Validate(string listen)
    {
        if (MaxConnections is < 4 or > 100_000) throw new ArgumentException($"Api.MaxConnections must be 4..100000, not {MaxConnections}");
        if (RequestHeadersSeconds is < 1 or > 300)
            throw new ArgumentException($"Api.RequestHeadersSeconds must be 1..300, not {RequestHeadersSeconds}");
        if (FaceEmbedBudgetMs <= 0 || VoiceEmbedBudgetMs <= 0) throw new ArgumentException("Api.FaceEmbedBudgetMs and Api.VoiceEmbedBudgetMs must be above 0");
        if (RequestsPerMinute is < 1 or > 1_000_000) throw new ArgumentException($"Api.RequestsPerMinute must be between 1 and 1000000, not {RequestsPerMinute}");
        if (ConsoleSessionMinutes is < 1 or > 720)
            throw new ArgumentException($"Api.ConsoleSessionMinutes must be 1..720, not {ConsoleSessionMinutes}");
        if (Workers is < 1 or > 64) throw new ArgumentException($"Api.Workers must be between 1 and 64, not {Workers}");
        if (!Uri.TryCreate(listen, UriKind.Absolute, out var uri)) return;
        var loopback = uri.IsLoopback || uri.Host is "127.0.0.1" or "[::1]" or "localhost";
        if (Enabled && !loopback && uri.Scheme != "https")
            throw new ArgumentException($"Health.Listen {listen} is beyond loopback: with the API enabled it must be https:// with Api.CertificateFile and Api.KeyFile (or set Api.Enabled false)");
        if (uri.Scheme == "https" && (CertificateFile is null || KeyFile is null))
            throw new ArgumentException("https:// listening needs Api.CertificateFile and Api.KeyFile (PEM)");
        foreach (var file in new[] { CertificateFile, KeyFile }.OfType<string>())
            if (uri.Scheme == "https" && !File.Exists(file)) throw new ArgumentException($"Api certificate file not found: {file}");
    }
}

public sealed class RetailOptions
{
    /// <summary>Recommender artifact folder (`echoface recommend train --out`); relative paths are under the data directory.</summary>
    public string Model { get; set; } = "recommender";
    /// <summary>How many products a customer_seen event and the shelf display carry.</summary>
    public int TopK { get; set; } = 10;
    /// <summary>How long the shelf display keeps showing a customer's list after they were seen; then /v1/shelf/latest is empty again.</summary>
    public double DisplaySeconds { get; set; } = 30;

    public void Validate()
    {
        if (TopK is < 1 or > 100) throw new ArgumentException($"Retail.TopK must be between 1 and 100, not {TopK}");
        if (DisplaySeconds is < 1 or > 3600) throw new ArgumentException($"Retail.DisplaySeconds must be between 1 and 3600, not {DisplaySeconds}");
        if (string.IsNullOrWhiteSpace(Model)) throw new ArgumentException("Retail.Model must name the recommender artifact folder");
    }
}

/// <summary>The whole configuration: /etc/echoface/echoface.json, then ECHOFACE__Section__Key environment variables; unknown keys are errors.</summary>
public sealed class EchoFaceConfig
{
    public InferenceOptions Inference { get; set; } = new();
    public FaceOptions Face { get; set; } = new();
    public MatchOptions Match { get; set; } = new();
    public VoiceOptions Voice { get; set; } = new();
    public ImageLimits Media { get; set; } = new();
    public StorageOptions Storage { get; set; } = new();
    public AccessOptions Access { get; set; } = new();
    public DoorOptions Door { get; set; } = new();
    public CameraOptions Camera { get; set; } = new();
    public MicrophoneOptions Microphone { get; set; } = new();
    public HealthOptions Health { get; set; } = new();
    public FleetOptions Fleet { get; set; } = new();
    public FleetServerOptions FleetServer { get; set; } = new();
    public RetailOptions Retail { get; set; } = new();
    public ApiOptions Api { get; set; } = new();

    public const string DefaultPath = "/etc/echoface/echoface.json";

    /// <summary>The models the door daemon loads: what `echoface models warmup` prepares (TensorRT's engines among them).</summary>
    public IReadOnlyList<string> ModelsInUse =>
        [.. new[] { Face.Detector, Face.Landmarks, Face.Embedder, Face.Liveness, Voice.Embedder, Voice.VadModel }
            .Concat(Face.LivenessFusion.Opinions.Select(LivenessOpinions.ModelOf).OfType<string>())
            .Distinct()];

    /// <summary>A copy sharing the sections, so that one section can be replaced whole (ConfigurationInForce).</summary>
    public EchoFaceConfig Copy() => (EchoFaceConfig)MemberwiseClone();

    public void Validate()
    {
        Face.Validate();
        Match.Validate();
        Voice.Validate();
        Access.Validate();
        Door.Validate();
        Camera.Validate();
        MicrophoneSource.Validate(Microphone.Source);
        Health.Validate();
        Storage.Validate();
        Fleet.Validate();
        FleetServer.Validate();
        Retail.Validate();
        Api.Validate(Health.Listen);
        if (Media.MaxBytes <= 0 || Media.MaxPixels <= 0) throw new ArgumentException("Media.MaxBytes and Media.MaxPixels must be positive");
        Inference.Validate();
        foreach (var p in Inference.Providers) InferenceSessionFactory.ByName(p);
    }

    /// <param name="path">An explicit file (must exist), or null for the default path if present.</param>
    public static EchoFaceConfig Load(string? path = null, IDictionary<string, string?>? overrides = null)
    {
        var builder = new ConfigurationBuilder();
        if (path is not null)
        {
            if (!File.Exists(path)) throw new BadInputException($"configuration file not found: {path}");
            builder.AddJsonFile(Path.GetFullPath(path), optional: false);
        }
        else if (File.Exists(DefaultPath)) builder.AddJsonFile(DefaultPath, optional: true);
        builder.AddEnvironmentVariables("ECHOFACE__");
        if (overrides is not null) builder.AddInMemoryCollection(overrides);
        var config = new EchoFaceConfig();
        try
        {
            var root = builder.Build();
            // the default lists would otherwise be appended to, not replaced, by the binder
            if (root.GetSection("Inference:Providers").Exists()) config.Inference.Providers.Clear();
            if (root.GetSection("Face:Fusion:Embedders").Exists()) config.Face.Fusion.Embedders.Clear();
            if (root.GetSection("Face:Fusion:Weights").Exists()) config.Face.Fusion.Weights.Clear();
            if (root.GetSection("Face:LivenessFusion:Opinions").Exists()) config.Face.LivenessFusion.Opinions.Clear();
            if (root.GetSection("Face:LivenessFusion:Weights").Exists()) config.Face.LivenessFusion.Weights.Clear();
            root.Bind(config, o => o.ErrorOnUnknownConfiguration = true);
            config.Validate();
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or InvalidDataException)
        {
            throw new BadInputException($"configuration is invalid: {e.Message}", e);
        }
        return config;
    }
}
