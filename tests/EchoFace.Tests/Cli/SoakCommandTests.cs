using EchoFace.Tests.Cli;

namespace EchoFace.Tests.Cli;

/// <summary>`bench soak` end to end, shortened: the daemon on the looping video, the broker restarted twice, samples with telemetry.</summary>
[Trait("Category", "Slow")]
public class SoakCommandTests
{
    [Fact]
    public void A_short_soak_samples_the_daemon_through_broker_restarts_and_draws_the_curves()
    {
        var cli = new CliRunner();
        var report = Path.Combine(TestEnvironment.TempDirectory(), "soak");
        var r = cli.Run("--json", "bench", "soak", "--minutes", "0.75", "--broker-restart", "0.25", "--sample", "3", "--report", report);
        Assert.True(r.ExitCode is 0 or 1, r.Stderr); // 1 would be a verdict of "not flat": on 45 s the curves are not the point here
        var soak = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "soak.json"))).RootElement;
        var samples = soak.GetProperty("samples").EnumerateArray().ToList();
        Assert.InRange(samples.Count, 10, 20);
        Assert.InRange(soak.GetProperty("verdict").GetProperty("brokerRestarts").GetInt32(), 2, 3);
        Assert.All(samples, s => Assert.InRange(s.GetProperty("rssMiB").GetDouble(), 50, 600));
        // telemetry came through the broker, before and after its restarts, and the outbox emptied
        Assert.Contains(samples.Take(5), s => s.GetProperty("frameP95").ValueKind == System.Text.Json.JsonValueKind.Number);
        Assert.True(samples[^1].GetProperty("fps").GetDouble() > 5, samples[^1].ToString());
        Assert.Equal(0, soak.GetProperty("verdict").GetProperty("outboxPendingAtEnd").GetInt64());
        Assert.True(new FileInfo(Path.Combine(report, "soak.png")).Length > 10_000);
    }
}
