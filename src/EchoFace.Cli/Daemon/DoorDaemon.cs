using EchoFace.Access;
using EchoFace.Configuration;
using EchoFace.Face;
using EchoFace.Hardware;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Voice;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace EchoFace.Cli.Daemon;

/// <summary>What `run` was asked for beyond the configuration.</summary>
public sealed record RunRequest(bool Once, string DataDirectory, string? ModelsDirectory, Configuration.ConfigShadow? Shadow = null);

/// <summary>
/// The door terminal as a hosted service. Models and the gallery load in StartAsync, so systemd's READY=1 (sent by the host once
/// every StartAsync has returned) means "able to decide"; the frame loop then sends WATCHDOG=1 itself while it is alive.
/// </summary>
public sealed class DoorDaemon(EchoFaceConfig config, RunRequest request, ILoggerFactory loggers, IHostApplicationLifetime lifetime, ISystemdNotifier notifier)
    : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger("EchoFace.Daemon");
    private readonly List<IDisposable> _owned = [];
    private FacePipeline? _pipeline;
    private VoicePipeline? _voice;
    private EventOutbox? _outbox;
    private DoorController? _door;
    private DoorTerminal? _terminal;
    private CameraSource? _camera;
    private IDoorIo? _io;
    private Sync.FleetLink? _fleet;
    private FleetHandlers? _handlers;
    private long _firstSeq;
    private int _faceTemplates;
    private DateTimeOffset _telemetryAt;
    private long _telemetryFrames;
    // when the frame loop entered its current frame; boxed so the door loop reads it atomically (a struct cannot be volatile)
    private volatile object? _busy;
    private DateTimeOffset? _processingSince
    {
        get => _busy as DateTimeOffset?;
        set => _busy = value;
    }

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
    public double? ReadyMs { get; private set; }
    public DoorController? Door => _door;
    /// <summary>The HTTP API's engine once models and gallery are loaded (null before, or with Api.Enabled false).</summary>
    public Api.ApiEngine? Api { get; private set; }
    public CameraSource? Camera => _camera;
    public TerminalStats? Stats => _terminal?.Stats;
    public EventOutbox? Outbox => _outbox;
    public string Provider => _pipeline?.Provider ?? "";
    public DateTimeOffset LastFrameAt { get; private set; }
    /// <summary>The customer the shelf display shows: the last one seen, while within Retail.DisplaySeconds.</summary>
    /// <summary>Where the door's decision pictures are (the API serves them by name).</summary>
    public DecisionSnapshots? Snapshots => _terminal?.Snapshots;
    public CustomerSeen? ShelfCustomer =>
        _terminal?.LatestCustomer is { } c && DateTimeOffset.UtcNow - c.At <= TimeSpan.FromSeconds(config.Retail.DisplaySeconds) ? c : null;
    /// <summary>Why the camera stream could not be read at all (a corrupt file): `run` exits 2 with it.</summary>
    public string? Failure { get; private set; }
    /// <summary>Every event of this run, read at stop (the summary of `run --once` prints them after the host is gone).</summary>
    public IReadOnlyList<OutboxEvent> FinalEvents { get; private set; } = [];

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var db = Path.Combine(request.DataDirectory, config.Storage.Database);
        _outbox = Own(new EventOutbox(db));
        _firstSeq = _outbox.LastSeq();
        _io = Own(DoorIoFactory.Open(config.Door.Board, config.Door.Pins, null, out var fallback));
        if (fallback is not null) _log.LogWarning("No GPIO door board ({Reason}): using the simulated board", fallback);
        // the lock takes its fail position before anything slow happens
        _door = new DoorController(_io, config.Door, e => _outbox.Append(e.Kind, config.Door.Name, e, e.State.ToString()));

        var manifest = ModelManifest.Discover(request.ModelsDirectory);
        var factory = new InferenceSessionFactory(manifest, config.Inference, loggers.CreateLogger("EchoFace.Inference"));
        // camera frames are never tight crops: padding a frame with no face would only double the detector's work (a copy: the
        // configuration itself stays as loaded, so the fleet's shadow compares like with like)
        var face = new FaceOptions();
        Configuration.ConfigShadow.CopyInto(face, config.Face);
        face.PadOnMiss = 0;
        _pipeline = Own(new FacePipeline(factory, face));
        var cipher = TemplateCipher.FromKeyFile(Path.Combine(request.DataDirectory, config.Storage.KeyFile));
        var store = Own(new GalleryStore(db, cipher));
        var faces = new FaceRecognizer(_pipeline, store, config.Match, manifest.Get(config.Face.Embedder).Sha256[..12]);
        _faceTemplates = faces.Gallery.TemplateCount;
        // the voice models load whatever the policy, so a fleet may switch a door to face+voice without a restart
        VoiceRecognizer? voice = null;
        try
        {
            _voice = Own(new VoicePipeline(factory, config.Voice));
            voice = new VoiceRecognizer(_voice, store, manifest.Get(config.Voice.Embedder).Sha256[..12]);
        }
        catch (ModelException e) when (config.Access.Policy != Policies.FaceVoice)
        {
            _log.LogWarning("Voice models not loaded ({Reason}): a face+voice policy would deny with voice_unavailable", e.Message);
        }
        var policy = new AccessPolicy(config.Access, config.Match, TimeProvider.System);
        var models = new ModelsUsed(config.Face.Detector, config.Face.Embedder, manifest.Get(config.Face.Embedder).Sha256[..12], config.Face.Liveness,
            voice is null ? null : config.Voice.Embedder);
        var lists = Own(new RecommendationStore(db));
        _terminal = new DoorTerminal(_pipeline, faces, voice, new MicrophoneSource(config.Microphone.Source), policy, _door, _outbox, store,
            config.Door.Name, models, loggers.CreateLogger("EchoFace.Access"))
        {
            // built whatever the policy, so a fleet may switch a camera to retail without a restart
            Shelf = new ShelfRecommendations(lists, LoadRecommender(), config.Retail.TopK),
            Snapshots = DecisionSnapshots.In(request.DataDirectory, cipher, () => config.Access.SnapshotKeep, loggers.CreateLogger("EchoFace.Access")),
        };
        _terminal.Decided += d =>
        {
            DaemonMetrics.Decisions.WithLabels(d.Outcome, d.Reason).Inc();
            DaemonMetrics.FrameToDecisionMs.Observe(d.FrameToDecisionMs);
        };
        _terminal.FrameAnalyzed += t =>
        {
            DaemonMetrics.StageMs.WithLabels("detect").Observe(t.Detect);
            if (t.Embed <= 0) return; // detect-only frame
            DaemonMetrics.StageMs.WithLabels("landmarks").Observe(t.Landmarks);
            DaemonMetrics.StageMs.WithLabels("align").Observe(t.Align);
            DaemonMetrics.StageMs.WithLabels("liveness").Observe(t.Liveness);
            DaemonMetrics.StageMs.WithLabels("embed").Observe(t.Embed);
        };
        _camera = new CameraSource(config.Camera, loggers.CreateLogger("EchoFace.Camera"));
        _camera.Fault += fault => _outbox.Append("fault", config.Door.Name, new { type = "camera_fault", source = config.Camera.Source, detail = fault });

        if (config.Fleet.Enabled)
            _fleet = new Sync.FleetLink(config.Fleet, _outbox, () => new
            {
                provider = _pipeline.Provider, faceTemplates = faces.Gallery.TemplateCount, policy = config.Access.Policy, camera = config.Camera.Source,
                door = config.Door.Name, board = _io.Name, models = _terminal.Models,
            }, loggers.CreateLogger("EchoFace.Fleet"));
        if (_fleet is not null)
            _handlers = new FleetHandlers(_fleet, request.Shadow, config, _door, policy, _outbox, Telemetry, loggers.CreateLogger("EchoFace.Fleet"),
                faces, voice, store, _terminal, lists, _camera);

        if (config.Api.Enabled)
            Api = Own(new Api.ApiEngine(config, manifest, factory, face, _pipeline, faces, _voice, voice, store, _terminal, Own(new ApiKeyStore(db)), _pipeline.Provider, request.DataDirectory));

        _door.Resume();
        ReadyMs = (DateTimeOffset.UtcNow - System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime()).TotalMilliseconds;
        _log.LogInformation("Ready in {Ms:F0} ms: {Identities} face templates, policy {Policy}, camera {Camera}, door {Board}, provider {Provider}",
            ReadyMs, faces.Gallery.TemplateCount, config.Access.Policy, CameraSource.Describe(config.Camera.Source), _io.Name, _pipeline.Provider);
        return base.StartAsync(cancellationToken);
    }

    /// <summary>The local recommender artifact, when there is one; without it customers get only the lists the fleet pushes.</summary>
    private Recommend.RecommenderModel? LoadRecommender()
    {
        var folder = Path.Combine(request.DataDirectory, config.Retail.Model);
        if (!File.Exists(Path.Combine(folder, Recommend.RecommenderModel.ManifestFile)))
        {
            if (config.Access.Policy == Policies.Retail)
                _log.LogWarning("No recommender artifact in {Folder} (`echoface recommend train --out {Folder}`): customers get the fleet's lists only", folder, folder);
            return null;
        }
        Recommend.RecommenderModel model;
        try { model = Recommend.RecommenderModel.Load(folder); }
        catch (BadInputException e) when (config.Access.Policy != Policies.Retail)
        {
            _log.LogWarning("Recommender artifact not loaded: {Reason}", e.Message);
            return null;
        }
        _log.LogInformation("Recommender version {Version} loaded: {Model}, {Customers} customers, {Items} items", model.Manifest.Version, model.Manifest.DefaultModel,
            model.Manifest.Customers, model.Manifest.Items.Count);
        return model;
    }

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        await Task.Yield();
        var ticks = Task.Run(() => DoorLoopAsync(stop), CancellationToken.None);
        if (_fleet is not null)
        {
            _fleetTask = Task.Run(() => _fleet.RunAsync(_fleetStop.Token), CancellationToken.None);
            _ = Task.Run(() => _handlers!.TelemetryLoopAsync(TimeSpan.FromSeconds(config.Fleet.TelemetrySeconds), _fleetStop.Token), CancellationToken.None);
        }
        var capture = _camera!.RunAsync(request.Once, stop);
        try
        {
            CameraFrame? last = null;
            await foreach (var frame in _camera.Frames.ReadAllAsync(CancellationToken.None))
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                _processingSince = DateTimeOffset.UtcNow;
                try { _terminal!.Process(frame); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // one bad frame (or a model error on it) must not take the door down: log it and go on with the next
                    _log.LogError(e, "Frame {Sequence} could not be processed", frame.Sequence);
                }
                finally
                {
                    _camera.Return(frame);
                    _processingSince = null;
                }
                DaemonMetrics.Frames.Inc();
                DaemonMetrics.FrameMs.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                last = frame;
                LastFrameAt = DateTimeOffset.UtcNow;
                if (stop.IsCancellationRequested) break;
            }
            await _camera.Frames.Completion;
            if (request.Once) _terminal!.Finish(last);
        }
        catch (BadInputException e)
        {
            _log.LogError("{Message}", e.Message);
            Failure = e.Message;
        }
        await capture;
        if (request.Once || config.Camera.Source == "none")
        {
            // without a camera the door loop is the daemon's heartbeat; with --once the file has ended
            if (config.Camera.Source == "none" && !request.Once) await ticks;
            lifetime.StopApplication();
        }
        await ticks.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private readonly CancellationTokenSource _fleetStop = new();
    private Task _fleetTask = Task.CompletedTask;
    public Sync.FleetLink? Fleet => _fleet;

    /// <summary>
    /// Ticks the door every 20 ms and sends WATCHDOG=1 while the frame loop is alive: waiting for a frame (a camera being restarted
    /// is not a hang: the door still works) or inside one for less than half the watchdog time. A pipeline stuck in one frame stops
    /// the pings, and systemd restarts the daemon.
    /// </summary>
    private async Task DoorLoopAsync(CancellationToken stop)
    {
        var watchdog = WatchdogInterval();
        var lastPing = DateTimeOffset.MinValue;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                _door!.Tick();
                var now = DateTimeOffset.UtcNow;
                if (watchdog is { } w && now - lastPing > w && !(_processingSince is { } busy && now - busy > w))
                {
                    notifier.Notify(new ServiceState("WATCHDOG=1"));
                    lastPing = DateTimeOffset.UtcNow;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>What the device reports on its telemetry topic every Fleet.TelemetrySeconds.</summary>
    private object Telemetry()
    {
        var frames = Stats?.FrameMs ?? [];
        var (now, total) = (DateTimeOffset.UtcNow, Stats?.Frames ?? 0);
        var fps = _telemetryAt == default ? 0 : (total - _telemetryFrames) / Math.Max(1e-3, (now - _telemetryAt).TotalSeconds);
        (_telemetryAt, _telemetryFrames) = (now, total);
        return new
        {
            fps = Math.Round(fps, 1),
            framesTotal = Stats?.Frames ?? 0,
            frameMs = frames.Length == 0 ? null : new { p50 = Evaluation.Percentiles.Of(frames, 50), p95 = Evaluation.Percentiles.Of(frames, 95) },
            droppedFrames = _camera?.Dropped ?? 0, sourceRestarts = _camera?.Restarts ?? 0, outboxPending = _outbox?.Pending() ?? 0,
            outboxDroppedUnsent = _handlers?.DroppedUnsent ?? 0,
            faceTemplates = _faceTemplates, provider = Provider, door = _door?.State.ToString(), uptimeSeconds = Math.Round((DateTimeOffset.UtcNow - StartedAt).TotalSeconds),
            cpuTemperatureC = CpuTemperature(),
        };
    }

    /// <summary>The SoC temperature where the kernel exposes it (Jetson, Raspberry Pi, most x86 boards), else null.</summary>
    private static double? CpuTemperature()
    {
        try { return double.Parse(File.ReadAllText("/sys/class/thermal/thermal_zone0/temp").Trim(), System.Globalization.CultureInfo.InvariantCulture) / 1000; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }

    /// <summary>Half of systemd's WatchdogSec (WATCHDOG_USEC), or null when the unit has no watchdog.</summary>
    private static TimeSpan? WatchdogInterval() =>
        long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var us) && us > 0 ? TimeSpan.FromMicroseconds(us / 2.0) : null;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _terminal?.Stop();
        await base.StopAsync(cancellationToken);
        if (_terminal is not null) await _terminal.DrainAsync(TimeSpan.FromSeconds(5));
        _door?.EnterFailMode("stopping", fault: false);
        if (_fleet is not null)
        {
            // the fleet link goes last, so the stop's own events (fail position) still reach a connected broker; the rest wait on disk
            for (var i = 0; i < 40 && _fleet.Connected && _outbox!.Pending() > 0; i++) await Task.Delay(50, CancellationToken.None);
            await _fleetStop.CancelAsync();
            await _fleetTask.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
            await _fleet.DisposeAsync();
        }
        FinalEvents = _outbox?.Read(100_000, includeSent: true, afterSeq: _firstSeq) ?? [];
        _log.LogInformation("Stopped: {Frames} frames, {Granted} granted, {Denied} denied, {Pending} events waiting for the fleet",
            Stats?.Frames ?? 0, Stats?.Granted ?? 0, Stats?.Denied ?? 0, _outbox?.Pending() ?? 0);
    }

    private T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    public override void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        base.Dispose();
    }
}
