using Microsoft.Extensions.Logging;

namespace EchoFace.Daemon;

/// <summary>
/// Says when the wall clock is known to be unset (before this release: a board without an RTC before NTP answers) and when it
/// becomes set, as `clock_unset` and `clock_set` fault events: the fleet then knows which of the device's timestamps to distrust.
/// </summary>
public sealed class ClockWatch(TimeProvider clock, Storage.EventOutbox outbox, Func<string> door, ILogger log, Action? set = null)
{
    private bool? _unset;

    public bool Unset => _unset == true;

    public void Tick()
    {
        var now = clock.GetUtcNow();
        var unset = WallClock.Unset(now);
        if (unset == _unset) return;
        if (unset)
        {
            log.LogWarning("The clock reads {Now:u}, before this release ({Floor:yyyy-MM-dd}): it is unset. Scheduled groups are decided by " +
                           "Access.UnsetClock, events are flagged clockUnset, TLS certificates cannot be checked", now, WallClock.Floor);
            outbox.Append("fault", door(), new { type = "clock_unset", clock = now, floor = WallClock.Floor });
        }
        else if (_unset == true)
        {
            log.LogInformation("The clock is set: it reads {Now:u}", now);
            outbox.Append("fault", door(), new { type = "clock_set", clock = now });
            set?.Invoke();
        }
        _unset = unset;
    }
}
