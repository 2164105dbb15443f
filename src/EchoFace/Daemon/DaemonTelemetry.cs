using EchoFace.Access;
using EchoFace.Face;
using EchoFace.Hardware;
using EchoFace.Media;
using EchoFace.Recognition;
using EchoFace.Storage;

namespace EchoFace.Daemon;

/// <summary>What the device reports on its telemetry topic every Fleet.TelemetrySeconds (and on cmd/resync).</summary>
public sealed class DaemonTelemetry(DoorTerminal terminal, CameraSource camera, EventOutbox outbox, FaceRecognizer faces, FacePipeline pipeline,
    DoorController door, TimeProvider clock)
{
    private readonly DateTimeOffset _started = clock.GetUtcNow();
    private readonly Lock _gate = new();
    private DateTimeOffset _at;
    private long _frames, _droppedUnsent;

    /// <summary>Events the retention bound has dropped unsent since start: a fleet must know what it lost.</summary>
    public long DroppedUnsent => Interlocked.Read(ref _droppedUnsent);

    public void Dropped(long unsent) => Interlocked.Add(ref _droppedUnsent, unsent);

    public object Report()
    {
        var stats = terminal.Stats;
        var frames = stats.FrameMs;
        double fps;
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            fps = _at == default ? 0 : (stats.Frames - _frames) / Math.Max(1e-3, (now - _at).TotalSeconds);
            (_at, _frames) = (now, stats.Frames);
        }
        return new
        {
            fps = Math.Round(fps, 1),
            framesTotal = stats.Frames,
            frameMs = frames.Length == 0 ? null : new { p50 = Evaluation.Percentiles.Of(frames, 50), p95 = Evaluation.Percentiles.Of(frames, 95) },
            droppedFrames = camera.Dropped, sourceRestarts = camera.Restarts, outboxPending = outbox.Pending(), outboxDroppedUnsent = DroppedUnsent,
            faceTemplates = faces.Gallery.TemplateCount, provider = pipeline.Provider, door = door.State.ToString(),
            uptimeSeconds = Math.Round((now - _started).TotalSeconds), cpuTemperatureC = CpuTemperature(),
        };
    }

    /// <summary>The SoC temperature where the kernel exposes it (Jetson, Raspberry Pi, most x86 boards), else null.</summary>
    private static double? CpuTemperature()
    {
        try
        {
            var milli = File.ReadAllText("/sys/class/thermal/thermal_zone0/temp").Trim();
            return double.Parse(milli, System.Globalization.CultureInfo.InvariantCulture) / 1000;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }
}
