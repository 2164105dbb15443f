using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using EchoFace.Storage;
using EchoFace.Sync;
using EchoFace.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace EchoFace.Benchmarks;

/// <summary>
/// A week offline at a busy door: 200,000 access events stored while the broker was away (Fleet.OutboxMaxEvents keeps them all),
/// then drained in order to a local mosquitto when it returns (budget >= 2,000 events/s), with the process's memory sampled every
/// 100 ms during the drain (printed as `// rss`: it must stay flat). events/s = 200,000 / the mean.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 0, iterationCount: 3, invocationCount: 1)]
public class OutageDrainBenchmarks
{
    private const int Events = 200_000;
    private Mosquitto _broker = null!;
    private string _dir = null!, _filled = null!;
    private EventOutbox _outbox = null!;
    private readonly List<long> _rss = [];

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("echoface-bench-outage").FullName;
        _broker = new Mosquitto(directory: Path.Combine(_dir, "broker"), persistence: false);
        // filled once through the outbox's own appends (NORMAL: only the filling is faster), then copied for each drain
        _filled = Path.Combine(_dir, "filled.db");
        using var outbox = new EventOutbox(_filled, fullSync: false);
        for (var i = 0; i < Events; i++)
            outbox.Append("access", "door-1", new { outcome = i % 7 == 0 ? "denied" : "granted", identity = $"person-{i % 500}", faceScore = 0.71, n = i },
                "Locked");
    }

    [IterationSetup]
    public void Copy()
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.db");
        File.Copy(_filled, path);
        _outbox = new EventOutbox(path);
        _rss.Clear();
    }

    [Benchmark]
    public long Drain200k()
    {
        var options = new FleetOptions { Enabled = true, Broker = _broker.Url(), Site = "bench", DeviceId = "door-outage" };
        var link = new FleetLink(options, _outbox, () => new { }, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => link.RunAsync(stop.Token));
        using var self = Process.GetCurrentProcess();
        // the sampling period, not a wait for the drain: polling faster would take CPU from the drain it measures
        using var period = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (_outbox.Pending() > 0)
        {
            self.Refresh();
            _rss.Add(self.WorkingSet64);
            period.WaitForNextTickAsync().AsTask().Wait();
        }
        stop.Cancel();
        run.Wait();
        link.DisposeAsync().AsTask().Wait();
        return link.Published;
    }

    [IterationCleanup]
    public void Report()
    {
        _outbox.Dispose();
        if (_rss.Count > 0)
            Console.WriteLine($"// rss MiB during the drain: first {_rss[0] >> 20}, max {_rss.Max() >> 20}, last {_rss[^1] >> 20} ({_rss.Count} samples)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _broker.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
