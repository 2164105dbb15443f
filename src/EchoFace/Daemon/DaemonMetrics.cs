using Prometheus;

namespace EchoFace.Daemon;

/// <summary>What /metrics exports beyond the process and runtime defaults (prometheus-net: the registry is process-wide, so these are static).</summary>
public static class DaemonMetrics
{
    private static readonly double[] MsBuckets = [1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000, 2500];

    public static readonly Counter Frames = Metrics.CreateCounter("echoface_frames_total", "camera frames processed");
    public static readonly Counter Decisions = Metrics.CreateCounter("echoface_decisions_total", "access decisions", "outcome", "reason");
    public static readonly Histogram FrameMs = Metrics.CreateHistogram("echoface_frame_ms", "pipeline time per frame (ms)",
        new HistogramConfiguration { Buckets = MsBuckets });
    public static readonly Histogram StageMs = Metrics.CreateHistogram("echoface_stage_ms", "face pipeline time per frame and stage (ms)",
        new HistogramConfiguration { Buckets = MsBuckets, LabelNames = ["stage"] });
    public static readonly Histogram FrameToDecisionMs = Metrics.CreateHistogram("echoface_frame_to_decision_ms",
        "capture of the deciding frame to the stored decision (ms)", new HistogramConfiguration { Buckets = MsBuckets });

    public static void ObserveStages(Face.StageTimings t)
    {
        StageMs.WithLabels("detect").Observe(t.Detect);
        if (t.Embed <= 0) return; // detect-only frame
        StageMs.WithLabels("landmarks").Observe(t.Landmarks);
        StageMs.WithLabels("align").Observe(t.Align);
        StageMs.WithLabels("liveness").Observe(t.Liveness);
        StageMs.WithLabels("embed").Observe(t.Embed);
    }
}
