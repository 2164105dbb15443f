using System.Collections.Concurrent;

namespace EchoFace.Api;

/// <summary>Requests, outcomes and latency per endpoint since start (GET /v1/stats).</summary>
public sealed class ApiStats
{
    private readonly ConcurrentDictionary<string, List<double>> _latency = new();
    private readonly ConcurrentDictionary<int, long> _statuses = new();
    private long _requests, _facesMatched, _facesUnknown;

    public void Request(string endpoint, int status, double ms)
    {
        Interlocked.Increment(ref _requests);
        _statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
        var list = _latency.GetOrAdd(endpoint, _ => []);
        lock (list)
        {
            if (list.Count == 10_000) list.RemoveAt(0);
            list.Add(ms);
        }
    }

    public void Faces(int matched, int unknown)
    {
        Interlocked.Add(ref _facesMatched, matched);
        Interlocked.Add(ref _facesUnknown, unknown);
    }

    /// <summary>The door's frame count and the time percentiles of the frames after <paramref name="after"/>.</summary>
    public static object Door(Access.TerminalStats door, long after)
    {
        var ms = door.FrameMsAfter(after);
        double? At(double p) => ms.Length == 0 ? null : Evaluation.Percentiles.Of(ms, p); // JSON has no NaN: none is null
        return new { frames = door.Frames, frameMs = new { count = ms.Length, p50 = At(50), p95 = At(95) } };
    }

    public object Snapshot() => new
    {
        requests = Interlocked.Read(ref _requests),
        byStatus = _statuses.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value),
        facesMatched = Interlocked.Read(ref _facesMatched), facesUnknown = Interlocked.Read(ref _facesUnknown),
        latencyMs = _latency.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key, kv =>
        {
            double[] values;
            lock (kv.Value) values = [.. kv.Value];
            return new { count = values.Length, p50 = Evaluation.Percentiles.Of(values, 50), p95 = Evaluation.Percentiles.Of(values, 95), p99 = Evaluation.Percentiles.Of(values, 99) };
        }),
    };
}
