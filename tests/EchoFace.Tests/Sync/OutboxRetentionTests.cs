using EchoFace.Storage;

namespace EchoFace.Tests.Sync;

/// <summary>The outbox's bound: acknowledged events go first, then unsent low-priority ones, access and alarms last.</summary>
[Trait("Category", "Integration")]
public class OutboxRetentionTests
{
    [Fact]
    public void Sent_events_go_first_then_unsent_status_and_faults_and_access_events_last()
    {
        using var outbox = new EventOutbox(Path.Combine(TestEnvironment.TempDirectory(), "echoface.db"));
        var sent = Enumerable.Range(0, 300).Select(i => outbox.Append("access", "d", new { i })).ToList();
        outbox.MarkSent(sent);
        for (var i = 0; i < 200; i++) outbox.Append("status", "d", new { i });
        for (var i = 0; i < 500; i++) outbox.Append(i % 2 == 0 ? "access" : "alarm", "d", new { i });

        Assert.Equal(new EventOutbox.Pruned(300, 0, 0), outbox.Enforce(700));
        Assert.Equal(new EventOutbox.Pruned(0, 200, 0), outbox.Enforce(500));
        Assert.Equal(500, outbox.Pending());
        var pruned = outbox.Enforce(400);
        Assert.Equal(100, pruned.Access); // only when nothing else is left, and the oldest first
        var left = outbox.Read(1000);
        Assert.Equal(400, left.Count);
        Assert.All(left, e => Assert.Contains(e.Kind, new[] { "access", "alarm" }));
        Assert.Equal("{\"i\":100}", left[0].Payload);
        Assert.Equal(new EventOutbox.Pruned(0, 0, 0), outbox.Enforce(400));
    }
}
