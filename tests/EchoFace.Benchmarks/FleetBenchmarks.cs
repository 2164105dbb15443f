using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using EchoFace.Storage;
using EchoFace.Sync;
using Microsoft.Extensions.Logging.Abstractions;

namespace EchoFace.Benchmarks;

/// <summary>Outbox drain to a local mosquitto: 10,000 stored access events published with QoS 1 and marked sent (budget >= 2,000 events/s).</summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 1)]
public class FleetBenchmarks
{
    private Process _broker = null!;
    private string _dir = null!, _url = null!;
    private EventOutbox _outbox = null!;

    [Params(200)] public int Window;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("echoface-bench-mqtt").FullName;
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        File.WriteAllText(Path.Combine(_dir, "m.conf"), $"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nuser {Environment.UserName}\n");
        _broker = Process.Start(new ProcessStartInfo("mosquitto", ["-c", Path.Combine(_dir, "m.conf")]) { RedirectStandardError = true })
                  ?? throw new InvalidOperationException("mosquitto could not be started: run ./setup.sh");
        Thread.Sleep(500);
        _url = $"mqtt://127.0.0.1:{port}";
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
        var options = new FleetOptions { Enabled = true, Broker = _url, Site = "bench", DeviceId = "door-bench", Window = Window };
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
        _broker.Kill();
        Directory.Delete(_dir, recursive: true);
    }
}
