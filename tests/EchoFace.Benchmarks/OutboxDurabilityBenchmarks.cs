using BenchmarkDotNet.Attributes;
using EchoFace.Storage;

namespace EchoFace.Benchmarks;

/// <summary>
/// The cost of SQLite's synchronous=FULL for the outbox: 1,000 access events, each appended with the door's state in its own
/// transaction as the door does, on this machine's disk (Storage.OutboxSynchronous, docs/faults.md). events/s = 1,000 / the mean.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 1)]
public class OutboxDurabilityBenchmarks
{
    private string _dir = null!;
    private EventOutbox _outbox = null!;

    [Params("FULL", "NORMAL")] public string Synchronous = "FULL";

    [GlobalSetup]
    public void Setup() => _dir = Directory.CreateTempSubdirectory("echoface-bench-outbox").FullName;

    [IterationSetup]
    public void Open() => _outbox = new EventOutbox(Path.Combine(_dir, $"{Guid.NewGuid():N}.db"), fullSync: Synchronous == "FULL");

    [Benchmark]
    public int Append1k()
    {
        for (var i = 0; i < 1000; i++)
            _outbox.Append("access", "door-1", new { outcome = "granted", identity = $"person-{i % 100}", faceScore = 0.71, n = i }, "Unlocked");
        return 1000;
    }

    [IterationCleanup]
    public void Close() => _outbox.Dispose();

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);
}
