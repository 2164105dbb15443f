namespace EchoFace.Access;

/// <summary>Counts and latencies for health, metrics and the benchmark.</summary>
public sealed class TerminalStats
{
    private readonly Lock _gate = new();
    private readonly List<double> _frameMs = [], _decisionMs = [];
    public long Frames, FacesAnalyzed, Granted, Denied;

    private readonly long[] _frameAt = new long[32];

    public void Frame(double ms)
    {
        lock (_gate)
        {
            _frameAt[Frames % _frameAt.Length] = System.Diagnostics.Stopwatch.GetTimestamp();
            Frames++;
            Keep(_frameMs, ms);
        }
    }

    /// <summary>Frames a second over the last 32 frames; 0 when none came in the last 2 s.</summary>
    public double Fps
    {
        get
        {
            lock (_gate)
            {
                var n = (int)Math.Min(Frames, _frameAt.Length);
                if (n < 2) return 0;
                var (last, first) = (_frameAt[(Frames - 1) % _frameAt.Length], _frameAt[(Frames - n) % _frameAt.Length]);
                if (System.Diagnostics.Stopwatch.GetElapsedTime(last).TotalSeconds > 2) return 0;
                return (n - 1) / System.Diagnostics.Stopwatch.GetElapsedTime(first, last).TotalSeconds;
            }
        }
    }
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
