using System.Text.Json;
using EchoFace.Access;
using EchoFace.Face;
using EchoFace.Hardware;
using EchoFace.Storage;
using EchoFace.Sync;
using Microsoft.Extensions.Time.Testing;

namespace EchoFace.Tests.Robustness;

/// <summary>
/// A board's wall clock jumping (NTP's first answer on a board without an RTC, an operator setting it back) while the monotonic
/// clock runs on, as the kernel keeps them: door timers, lockout and re-entry follow the monotonic clock, event ids stay in the
/// outbox's order, schedules refuse on a clock known to be unset and say so, and events from before the clock was set are flagged.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ClockJumpTests : IDisposable
{
    /// <summary>A wall clock that jumps by <see cref="Offset"/> over a monotonic clock that does not (both stepped by Advance).</summary>
    private sealed class JumpingClock(DateTimeOffset start) : TimeProvider
    {
        private readonly FakeTimeProvider _real = new(start);
        public TimeSpan Offset { get; set; }
        public void Advance(TimeSpan by) => _real.Advance(by);
        public override DateTimeOffset GetUtcNow() => _real.GetUtcNow() + Offset;
        public override long GetTimestamp() => _real.GetTimestamp();
        public override long TimestampFrequency => _real.TimestampFrequency;
    }

    private readonly JumpingClock _clock = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    private readonly string _dir = TestEnvironment.TempDirectory();

    public void Dispose() { }

    private DoorController Door(SimulatedDoorIo io)
    {
        var door = new DoorController(io, new DoorOptions { UnlockSeconds = 5, HeldOpenSeconds = 30 }, _ => { }, _clock);
        door.Resume();
        return door;
    }

    private void Step(DoorController door, double seconds)
    {
        for (var t = 0.0; t < seconds; t += 0.1)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(100));
            door.Tick();
        }
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(2)]
    public void A_grant_holds_the_lock_open_for_its_unlock_time_whichever_way_the_wall_clock_jumps(int hours)
    {
        var io = new SimulatedDoorIo(_clock);
        var door = Door(io);
        Assert.True(door.Grant("alice"));
        _clock.Offset = TimeSpan.FromHours(hours);
        Step(door, 4.8);
        Assert.Equal(DoorState.Unlocked, door.State);
        Step(door, 0.4);
        Assert.Equal(DoorState.Locked, door.State);
        Assert.False(io.Unlocked);
    }

    private AccessPolicy Policy(AccessOptions? o = null) =>
        new(o ?? new AccessOptions { TimeZone = "UTC", MaxFailures = 2, LockoutSeconds = 60 },
            new EchoFace.Gallery.MatchOptions { IdentifyThreshold = 0.45f }, _clock);

    private static Track Presence()
    {
        var track = new Track(1, new BoxF(0, 0, 100, 100), DateTimeOffset.UnixEpoch);
        for (var i = 0; i < 3; i++) track.Observations.Add(new FaceObservation([1, 0], 0.8f, 0.9f, track.Box));
        return track;
    }

    [Fact]
    public void Lockout_and_re_entry_run_on_the_monotonic_clock()
    {
        var policy = Policy();
        policy.Record(null, granted: false);
        Assert.True(policy.Record(null, granted: false));
        _clock.Offset = TimeSpan.FromHours(-2);
        _clock.Advance(TimeSpan.FromSeconds(61));
        Assert.False(policy.LockedOut);

        policy.Record("alice", granted: true);
        _clock.Offset += TimeSpan.FromHours(3);
        Assert.Equal("re-entry", policy.Evaluate(Presence(), _ => ("alice", 0.8f), _ => "default", false).Reason);
    }

    [Fact]
    public void A_scheduled_group_is_refused_on_a_clock_known_to_be_unset_unless_configured_to_allow()
    {
        var options = new AccessOptions { TimeZone = "UTC", Schedules = { ["staff"] = [new ScheduleRule()] } };
        _clock.Offset = new DateTimeOffset(1970, 1, 2, 8, 0, 0, TimeSpan.Zero) - _clock.GetUtcNow();
        var refused = Policy(options).Evaluate(Presence(), _ => ("alice", 0.8f), _ => "staff", false);
        Assert.Equal((Verdict.Deny, "clock_unset"), (refused.Verdict, refused.Reason));
        Assert.Equal(Verdict.Grant, Policy(options).Evaluate(Presence(), _ => ("alice", 0.8f), _ => "default", false).Verdict);
        options.UnsetClock = "allow";
        Assert.Equal(Verdict.Grant, Policy(options).Evaluate(Presence(), _ => ("alice", 0.8f), _ => "staff", false).Verdict);
        _clock.Offset = TimeSpan.Zero;
        options.UnsetClock = "deny";
        Assert.Equal(Verdict.Grant, Policy(options).Evaluate(Presence(), _ => ("alice", 0.8f), _ => "staff", false).Verdict);
    }

    [Fact]
    public void Event_ids_stay_in_the_outbox_s_order_through_jumps_back_and_a_restart_at_an_earlier_time()
    {
        var path = Path.Combine(_dir, "outbox.db");
        using (var outbox = new EventOutbox(path, _clock))
        {
            for (var i = 0; i < 3; i++) outbox.Append("access", "door-1", new { i });
            _clock.Offset = TimeSpan.FromHours(-2);
            for (var i = 3; i < 6; i++) outbox.Append("access", "door-1", new { i });
        }
        _clock.Offset = TimeSpan.FromHours(-5);
        using var again = new EventOutbox(path, _clock);
        again.Append("access", "door-1", new { i = 6 });
        var events = again.Read(100);
        Assert.Equal(7, events.Count);
        Assert.Equal(events.Select(e => e.Id).Order(StringComparer.Ordinal), events.Select(e => e.Id));
        // the times are what the clock said: the fleet sees the jump, the order is kept by the ids
        Assert.True(events[3].At < events[2].At);
    }

    [Fact]
    public void An_event_from_before_the_clock_was_set_is_flagged_for_the_fleet()
    {
        var early = new OutboxEvent(1, Ulid.NewUlid().ToString(), new DateTimeOffset(1970, 1, 2, 8, 0, 0, TimeSpan.Zero), "access", "door-1", "{}", null);
        var flagged = JsonDocument.Parse(FleetLink.Envelope(early, "lab", "door-1")).RootElement;
        Assert.True(flagged.GetProperty("clockUnset").GetBoolean());
        var now = early with { At = DateTimeOffset.UtcNow };
        Assert.False(JsonDocument.Parse(FleetLink.Envelope(now, "lab", "door-1")).RootElement.TryGetProperty("clockUnset", out _));
    }
}
