namespace EchoFace;

/// <summary>
/// A clock for durations that wall-clock jumps do not move (a board without an RTC setting its time at NTP's first answer, an
/// operator setting it back): the TimeProvider's monotonic timestamp, as a DateTimeOffset since an arbitrary start.
/// </summary>
public static class Monotonic
{
    public static DateTimeOffset Now(TimeProvider clock) => DateTimeOffset.UnixEpoch + clock.GetElapsedTime(0, clock.GetTimestamp());
}

/// <summary>
/// Whether the wall clock can be trusted: a board without a battery-backed clock boots at 1970 (or at its last shutdown) until
/// NTP answers. A time before this release was made is known to be wrong (systemd's TIME_EPOCH does the same with its build time).
/// </summary>
public static class WallClock
{
    /// <summary>This release's floor: no real time is earlier (a constant, not the file's time, so that every copy agrees).</summary>
    public static readonly DateTimeOffset Floor = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    public static bool Unset(DateTimeOffset now) => now < Floor;
}
