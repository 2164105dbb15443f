using EchoFace.Configuration;

namespace EchoFace.Daemon;

/// <summary>GET /healthz: ok once ready, while frames arrive (or there is no camera) and the door is not in its fail position.</summary>
public sealed record DaemonHealth(string Status, double? ReadyMs, string Camera, long Captured, long Dropped, long Restarts, string? LastFault,
    double SecondsSinceFrame, string Door, string Board, long Frames, long Granted, long Denied, long OutboxPending, string Provider)
{
    [System.Text.Json.Serialization.JsonIgnore] public bool Ok => Status == "ok";

    public static DaemonHealth Of(DoorDaemon d, EchoFaceConfig config)
    {
        var since = d.LastFrameAt == default ? double.PositiveInfinity : (DateTimeOffset.UtcNow - d.LastFrameAt).TotalSeconds;
        var cameraOk = config.Camera.Source == "none" || since < 5;
        var ok = d.ReadyMs is not null && cameraOk && d.Door?.State != Hardware.DoorState.Fault;
        return new DaemonHealth(ok ? "ok" : "degraded", d.ReadyMs, config.Camera.Source, d.Camera?.Captured ?? 0, d.Camera?.Dropped ?? 0,
            d.Camera?.Restarts ?? 0, d.Camera?.LastFault, double.IsInfinity(since) ? -1 : Math.Round(since, 2),
            d.Door?.State.ToString() ?? "starting", d.Door?.Board ?? "", d.Stats?.Frames ?? 0, d.Stats?.Granted ?? 0, d.Stats?.Denied ?? 0,
            d.Outbox?.Pending() ?? 0, d.Provider);
    }
}
