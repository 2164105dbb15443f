namespace EchoFace.Access;

/// <summary>Counts and latencies for health, metrics and the benchmark.</summary>
public sealed class TerminalStats
{
    private readonly Lock _gate = new();
    private readonly List<double> _frameMs = [], _decisionMs = [];
    public long Frames, FacesAnalyzed, Granted, Denied;

    public void Frame(double ms) { lock (_gate) { Frames++; Keep(_frameMs, ms); } }
    public void Decision(bool granted, double ms) { lock (_gate) { if (granted) Granted++; else Denied++; Keep(_decisionMs, ms); } }
    public double[] FrameMs { get { lock (_gate) return [.. _frameMs]; } }
    public double[] DecisionMs { get { lock (_gate) return [.. _decisionMs]; } }

    /// <summary>The times of the frames after the first <paramref name="frames"/> (as many of them as are kept).</summary>
    public double[] FrameMsAfter(long frames)
    {
        lock (_gate)
        {
            var n = (int)Math.Clamp(Frames - frames, 0, _frameMs.Count);
            return [.. _frameMs.GetRange(_frameMs.Count - n, n)];
        }
    }

    private static void Keep(List<double> list, double value)
    {
        if (list.Count == 10_000) list.RemoveAt(0);
        list.Add(value);
    }
}
