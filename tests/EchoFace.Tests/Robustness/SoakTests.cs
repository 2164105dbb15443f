using System.Text.Json;
using EchoFace.Soak;

namespace EchoFace.Tests.Robustness;

/// <summary>The soak benchmark end to end, shortened: the daemon on the looping video, the broker restarted twice, samples with telemetry.</summary>
[Trait("Category", "Slow")]
public class SoakTests
{
    [Fact]
    public void A_short_soak_samples_the_daemon_through_broker_restarts_and_draws_the_curves()
    {
        var report = Path.Combine(TestEnvironment.TempDirectory(), "soak");
        var settings = new SoakSettings(Minutes: 0.75, BrokerRestartMinutes: 0.25, SampleSeconds: 3, report)
        {
            // the product as the tests built it, not whatever a Release build beside the repository holds
            Echoface = typeof(EchoFace.Cli.EchoFaceCli).Assembly.Location,
            Models = TestEnvironment.ModelsDirectory,
            Photos = TestEnvironment.Data("faces", "photos"),
        };
        SoakRun.Run(settings); // its verdict may be "not flat": on 45 s the curves are not the point here
        var soak = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "soak.json"))).RootElement;
        var samples = soak.GetProperty("samples").EnumerateArray().ToList();
        Assert.InRange(samples.Count, 10, 20);
        Assert.InRange(soak.GetProperty("verdict").GetProperty("brokerRestarts").GetInt32(), 2, 3);
        Assert.All(samples, s => Assert.InRange(s.GetProperty("rssMiB").GetDouble(), 50, 600));
        // telemetry came through the broker, before and after its restarts, and the outbox emptied
        Assert.Contains(samples.Take(5), s => s.GetProperty("frameP95").ValueKind == JsonValueKind.Number);
        Assert.True(samples[^1].GetProperty("fps").GetDouble() > 5, samples[^1].ToString());
        Assert.Equal(0, soak.GetProperty("verdict").GetProperty("outboxPendingAtEnd").GetInt64());
        Assert.True(new FileInfo(Path.Combine(report, "soak.png")).Length > 10_000);
    }
}
