using EchoFace.Hardware;
using Microsoft.Extensions.Time.Testing;

namespace EchoFace.Tests.Hardware;

/// <summary>The door state machine driven through the simulated board with scripted contact and button inputs and a stepped clock.</summary>
[Trait("Category", "Unit")]
public class DoorControllerTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    private readonly SimulatedDoorIo _io;
    private readonly List<DoorEvent> _events = [];

    public DoorControllerTests() => _io = new SimulatedDoorIo(_clock);

    private DoorController Door(string failMode = "secure")
    {
        var door = new DoorController(_io, new DoorOptions { UnlockSeconds = 5, HeldOpenSeconds = 30, FailMode = failMode }, _events.Add, _clock);
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

    [Fact]
    public void A_grant_releases_the_lock_for_the_unlock_time_then_locks_again()
    {
        var door = Door();
        Assert.True(door.Grant("alice"));
        Assert.True(_io.Unlocked);
        Assert.Equal(DoorState.Unlocked, door.State);
        Step(door, 4.8);
        Assert.True(_io.Unlocked);
        Step(door, 0.4);
        Assert.False(_io.Unlocked);
        Assert.Equal(DoorState.Locked, door.State);
        Assert.DoesNotContain(_events, e => e.Kind == "alarm");
    }

    [Fact]
    public void Opening_on_a_grant_is_an_access_event_and_closing_relocks_at_once()
    {
        var door = Door();
        door.Grant("alice");
        Step(door, 1);
        _io.DoorOpen = true;
        Step(door, 1);
        Assert.Equal(DoorState.Open, door.State);
        Assert.Contains(_events, e => e.Type == "door_opened" && e.IdentityId == "alice");
        _io.DoorOpen = false;
        Step(door, 0.2);
        Assert.False(_io.Unlocked);
        Assert.Equal(DoorState.Locked, door.State);
        Assert.Equal("door_closed", _events[^1].Type);
    }

    [Fact]
    public void A_door_opened_without_a_grant_raises_the_forced_alarm_until_it_closes()
    {
        var door = Door();
        Step(door, 1);
        _io.DoorOpen = true;
        Step(door, 0.2);
        Assert.Equal(DoorState.ForcedOpen, door.State);
        var alarm = Assert.Single(_events, e => e.Kind == "alarm");
        Assert.Equal("forced_open", alarm.Type);
        Assert.Equal(DoorState.ForcedOpen, alarm.State);
        _io.DoorOpen = false;
        Step(door, 0.2);
        Assert.Equal("alarm_cleared", _events[^1].Type);
    }

    [Fact]
    public void An_authorised_door_left_open_raises_the_held_open_alarm_once()
    {
        var door = Door();
        door.Grant("bob");
        _io.DoorOpen = true;
        Step(door, 29.5);
        Assert.DoesNotContain(_events, e => e.Type == "held_open");
        Step(door, 5);
        Assert.Single(_events, e => e.Type == "held_open");
        Assert.Equal(DoorState.HeldOpen, door.State);
    }

    [Fact]
    public void The_exit_button_lets_people_out_without_an_alarm()
    {
        var door = Door();
        _io.ExitPressed = true;
        Step(door, 0.2);
        _io.ExitPressed = false;
        Assert.True(_io.Unlocked);
        _io.DoorOpen = true;
        Step(door, 1);
        Assert.Contains(_events, e => e.Type == "exit_button");
        Assert.DoesNotContain(_events, e => e.Kind == "alarm");
    }

    [Theory]
    [InlineData("secure", false)]
    [InlineData("safe", true)]
    public void Starting_stopping_and_faults_put_the_lock_in_its_fail_position(string mode, bool unlockedWhenFailed)
    {
        var door = new DoorController(_io, new DoorOptions { FailMode = mode }, _events.Add, _clock);
        Assert.Equal(unlockedWhenFailed, _io.Unlocked);
        Assert.Equal(DoorState.Fault, door.State);
        Assert.False(door.Grant("alice")); // no grants while starting
        door.Resume();
        Assert.False(_io.Unlocked);
        door.EnterFailMode("board lost");
        Assert.Equal(unlockedWhenFailed, _io.Unlocked);
        Assert.Equal("fault", _events[^1].Kind);
        Assert.Equal("status", _events[0].Kind); // starting is not a fault
    }
}
