using EchoFace.Access;
using EchoFace.Configuration;
using EchoFace.Face;
using EchoFace.Hardware;
using EchoFace.Media;
using EchoFace.Storage;
using EchoFace.Sync;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace EchoFace.Daemon;

/// <summary>What `run` was asked for beyond the configuration and the engine's location.</summary>
public sealed record RunRequest(bool Once, ConfigShadow? Shadow = null);

/// <summary>
/// The door terminal as a hosted service. Models and the gallery load in StartAsync, so systemd's READY=1 (sent by the host once
/// every StartAsync has returned) means "able to decide"; the frame loop then sends WATCHDOG=1 itself while it is alive. Its
/// services come from the composition root (<see cref="EngineServices"/>), taken in StartAsync in the order that matters: the
/// lock takes its fail position before anything slow happens.
/// </summary>
public sealed class DoorDaemon(EchoFaceConfig config, RunRequest request, IServiceProvider services, ILoggerFactory loggers,
    IHostApplicationLifetime lifetime, ISystemdNotifier notifier) : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger("EchoFace.Daemon");
    private FacePipeline? _pipeline;
    private EventOutbox? _outbox;
    private DoorController? _door;
    private DoorTerminal? _terminal;
    private CameraSource? _camera;
    private FleetLink? _fleet;
    private FleetHandlers? _handlers;
    private long _firstSeq;
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
    /// <summary>What the HTTP API works with, once models and gallery are loaded (null before, or with Api.Enabled false).</summary>
    public RecognitionService? Recognition { get; private set; }
    public CameraSource? Camera => _camera;
    public TerminalStats? Stats => _terminal?.Stats;
    public EventOutbox? Outbox => _outbox;
    public Storage.StorageGuard? Storage { get; private set; }
    public string Provider => _pipeline?.Provider ?? "";
    public DateTimeOffset LastFrameAt { get; private set; }
    /// <summary>Where the door's decision pictures are (the API serves them by name).</summary>
    public DecisionSnapshots? Snapshots => _terminal?.Snapshots;
    public LiveView? Live => _terminal?.Live;
    /// <summary>The configuration the daemon started with (the console's settings page shows the one in force).</summary>
    public EchoFaceConfig Config => config;
    /// <summary>The customer the shelf display shows: the last one seen, while within Retail.DisplaySeconds.</summary>
    public CustomerSeen? ShelfCustomer =>
        _terminal?.LatestCustomer is { } c && DateTimeOffset.UtcNow - c.At <= TimeSpan.FromSeconds(config.Retail.DisplaySeconds) ? c : null;
    /// <summary>Why the camera stream could not be read at all (a corrupt file): `run` exits 2 with it.</summary>
    public string? Failure { get; private set; }
    /// <summary>Every event of this run, read at stop (the summary of `run --once` prints them after the host is gone).</summary>
    public IReadOnlyList<OutboxEvent> FinalEvents { get; private set; } = [];
    public FleetLink? Fleet => _fleet;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _outbox = services.GetRequiredService<EventOutbox>();
        _firstSeq = _outbox.LastSeq();
        // the lock takes its fail position before anything slow happens
        _door = services.GetRequiredService<DoorController>();
        _pipeline = services.GetRequiredService<FacePipeline>();
        _terminal = services.GetRequiredService<DoorTerminal>();
        _terminal.Decided += d =>
        {
            DaemonMetrics.Decisions.WithLabels(d.Outcome, d.Reason).Inc();
            DaemonMetrics.FrameToDecisionMs.Observe(d.FrameToDecisionMs);
        };
        _terminal.FrameAnalyzed += DaemonMetrics.ObserveStages;
        _camera = services.GetRequiredService<CameraSource>();
        var inForce = services.GetRequiredService<ConfigurationInForce>();
        _camera.Fault += fault =>
            _outbox.Append("fault", inForce.Current.Door.Name, new { type = "camera_fault", source = _camera.Source, detail = fault });
        if (config.Fleet.Enabled)
        {
            _fleet = services.GetRequiredService<FleetLink>();
            _handlers = services.GetRequiredService<FleetHandlers>();
        }
        if (config.Api.Enabled) Recognition = services.GetRequiredService<RecognitionService>();
        Storage = services.GetRequiredService<Storage.StorageGuard>();
        Storage.KeepsReserve = true;
        _storage = new StorageWatch(Storage, _outbox, () => inForce.Current.Door.Name, _log);
        _storage.Tick();
        // once the clock is set, a broker certificate refused at 1970 is valid: the link tries at once, not after its back-off
        Clock = new ClockWatch(services.GetRequiredService<TimeProvider>(), _outbox, () => inForce.Current.Door.Name, _log, () => _fleet?.RetryNow());
        Clock.Tick();

        _door.Resume();
        ReadyMs = Monotonic.ProcessAge().TotalMilliseconds;
        _log.LogInformation("Ready in {Ms:F0} ms: {Identities} face templates, policy {Policy}, camera {Camera}, door {Board}, provider {Provider}",
            ReadyMs, services.GetRequiredService<Recognition.FaceRecognizer>().Gallery.TemplateCount, config.Access.Policy,
            CameraSource.Describe(config.Camera.Source), _door.Board, _pipeline.Provider);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        await Task.Yield();
        var ticks = Task.Run(() => DoorLoopAsync(stop), CancellationToken.None);
        _ = Task.Run(() => StorageLoopAsync(stop), CancellationToken.None);
        if (_fleet is not null)
        {
            _fleetTask = Task.Run(() => _fleet.RunAsync(_fleetStop.Token), CancellationToken.None);
            var every = TimeSpan.FromSeconds(config.Fleet.TelemetrySeconds);
            _ = Task.Run(() => _handlers!.TelemetryLoopAsync(every, _fleetStop.Token), CancellationToken.None);
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

    private StorageWatch? _storage;
    public ClockWatch? Clock { get; private set; }

    /// <summary>The storage's state and the clock's every 2 s (off the door loop: pruning and storing held events take disk time).</summary>
    private async Task StorageLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try { _storage!.Tick(); }
                catch (Exception e) when (e is not OperationCanceledException) { _log.LogError(e, "Storage check failed"); }
                try { Clock!.Tick(); } // a fault event it cannot store is held by the outbox like any other
                catch (Exception e) when (e is not OperationCanceledException) { _log.LogError(e, "Clock check failed"); }
            }
        }
        catch (OperationCanceledException) { }
    }

    private readonly CancellationTokenSource _fleetStop = new();
    private Task _fleetTask = Task.CompletedTask;

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
        }
        FinalEvents = _outbox?.Read(100_000, includeSent: true, afterSeq: _firstSeq) ?? [];
        _log.LogInformation("Stopped: {Frames} frames, {Granted} granted, {Denied} denied, {Pending} events waiting for the fleet",
            Stats?.Frames ?? 0, Stats?.Granted ?? 0, Stats?.Denied ?? 0, _outbox?.Pending() ?? 0);
    }

    public override void Dispose()
    {
        _fleetStop.Dispose();
        base.Dispose();
    }
}
