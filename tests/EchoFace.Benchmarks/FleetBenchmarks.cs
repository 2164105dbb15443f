using BenchmarkDotNet.Attributes;
using EchoFace.Storage;
using EchoFace.Sync;
using EchoFace.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace EchoFace.Benchmarks;

/// <summary>Outbox drain to a local mosquitto: 10,000 stored access events published with QoS 1 and marked sent (budget >= 2,000 events/s).</summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 1)]
public class FleetBenchmarks
{
    private Mosquitto _broker = null!;
    private string _dir = null!;
    private EventOutbox _outbox = null!;

    [Params(200)] public int Window;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("echoface-bench-mqtt").FullName;
        _broker = new Mosquitto(directory: Path.Combine(_dir, "broker"), persistence: false);
    }

    [IterationSetup]
    public void Fill()
    {
        _outbox = new EventOutbox(Path.Combine(_dir, $"{Guid.NewGuid():N}.db"));
        for (var i = 0; i < 10_000; i++) _outbox.Append("access", "door-1", new { outcome = "granted", identity = $"person-{i % 100}", faceScore = 0.71, n = i });
    }

    /// <summary>One operation drains 10,000 events: events/s = 10,000 / the mean.</summary>
    [Benchmark]
    public long Drain10k()
    {
        var options = new FleetOptions { Enabled = true, Broker = _broker.Url(), Site = "bench", DeviceId = "door-bench", Window = Window };
        var link = new FleetLink(options, _outbox, () => new { }, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => link.RunAsync(stop.Token));
        while (_outbox.Pending() > 0) Thread.Sleep(5);
        stop.Cancel();
        run.Wait();
        link.DisposeAsync().AsTask().Wait();
        return link.Published;
    }

    [IterationCleanup]
    public void Empty() => _outbox.Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        _broker.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
