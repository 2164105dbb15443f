using EchoFace.Storage;
using Microsoft.Extensions.Time.Testing;

namespace EchoFace.Tests.Sync;

/// <summary>The console's decisions list: the newest access events that pass its filter, sent or not.</summary>
[Trait("Category", "Integration")]
public class OutboxLatestTests
{
    [Fact]
    public void Filters_by_outcome_person_unknown_and_time_newest_first()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero));
        using var outbox = new EventOutbox(Path.Combine(TestEnvironment.TempDirectory(), "echoface.db"), clock);
        var ids = new List<string>();
        foreach (var (outcome, who) in new[] { ("granted", "jolie"), ("denied", (string?)null), ("granted", "bezos"), ("denied", "jolie") })
        {
            ids.Add(outbox.Append("access", "d", new { outcome, identity = who }));
            clock.Advance(TimeSpan.FromMinutes(10));
        }
        outbox.Append("alarm", "d", new { type = "forced_open" });
        outbox.MarkSent(ids[..2]);

        List<string> Ids(EventOutbox.Filter f, int limit = 10) => [.. outbox.Latest(f, limit).Select(e => e.Id)];
        Assert.Equal([ids[3], ids[2], ids[1], ids[0]], Ids(new("access")));
        Assert.Equal([ids[3], ids[2]], Ids(new("access"), 2));
        Assert.Equal([ids[2], ids[0]], Ids(new("access", Outcome: "granted")));
        Assert.Equal([ids[3], ids[0]], Ids(new("access", Identity: "jolie")));
        Assert.Equal([ids[1]], Ids(new("access", Identity: "unknown")));
        var start = new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);
        // bounds in another offset compare by instant
        Assert.Equal([ids[2], ids[1]], Ids(new("access", From: start.AddMinutes(5).ToOffset(TimeSpan.FromHours(2)), To: start.AddMinutes(20))));
        Assert.Single(Ids(new("alarm")));
    }
}
