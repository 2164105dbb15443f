using EchoFace.Configuration;

namespace EchoFace.Daemon;

/// <summary>GET /healthz: ok once ready, while frames arrive (or there is no camera) and the door is not in its fail position.</summary>
public sealed record DaemonHealth(string Status, double? ReadyMs, string Camera, long Captured, long Dropped, long Restarts, string? LastFault,
    double SecondsSinceFrame, string Door, string Board, long Frames, long Granted, long Denied, long OutboxPending, string Provider)
{
    /// <summary>ok, low, full or failing; held: events waiting in memory for the storage; storageError: why.</summary>
    public string Storage { get; init; } = "ok";
    public int OutboxHeld { get; init; }
    public string? StorageError { get; init; }
    public long StorageFreeBytes { get; init; }
    /// <summary>The wall clock is before this release: unset (docs/faults.md).</summary>
    public bool ClockUnset { get; init; }
    /// <summary>Null without a fleet link; fleetError: why the last connection failed (a certificate the clock makes invalid says so).</summary>
    public bool? FleetConnected { get; init; }
    public string? FleetError { get; init; }

    [System.Text.Json.Serialization.JsonIgnore] public bool Ok => Status == "ok";

    public static DaemonHealth Of(DoorDaemon d, EchoFaceConfig config)
    {
        var since = d.LastFrameAt == default ? double.PositiveInfinity : (DateTimeOffset.UtcNow - d.LastFrameAt).TotalSeconds;
        var cameraOk = config.Camera.Source == "none" || since < 5;
        var storage = d.Storage?.State ?? EchoFace.Storage.StorageState.Ok;
        var ok = d.ReadyMs is not null && cameraOk && d.Door?.State != Hardware.DoorState.Fault
                 && storage is not (EchoFace.Storage.StorageState.Full or EchoFace.Storage.StorageState.Failing);
        return new DaemonHealth(ok ? "ok" : "degraded", d.ReadyMs, config.Camera.Source, d.Camera?.Captured ?? 0, d.Camera?.Dropped ?? 0,
            d.Camera?.Restarts ?? 0, d.Camera?.LastFault, double.IsInfinity(since) ? -1 : Math.Round(since, 2),
            d.Door?.State.ToString() ?? "starting", d.Door?.Board ?? "", d.Stats?.Frames ?? 0, d.Stats?.Granted ?? 0, d.Stats?.Denied ?? 0,
            d.Outbox?.Pending() ?? 0, d.Provider)
        {
            Storage = storage.ToString().ToLowerInvariant(), OutboxHeld = d.Outbox?.Held ?? 0, StorageError = d.Storage?.LastError,
            StorageFreeBytes = d.Storage?.FreeBytes ?? -1, ClockUnset = d.Clock?.Unset ?? false,
            FleetConnected = d.Fleet?.Connected, FleetError = d.Fleet is { Connected: false } f ? f.LastError : null,
        };
    }
}
