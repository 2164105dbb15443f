namespace EchoFace;

/// <summary>
/// A clock for durations that wall-clock jumps do not move (a board without an RTC setting its time at NTP's first answer, an
/// operator setting it back): the TimeProvider's monotonic timestamp, as a DateTimeOffset since an arbitrary start.
/// </summary>
public static class Monotonic
{
    public static DateTimeOffset Now(TimeProvider clock) => DateTimeOffset.UnixEpoch + clock.GetElapsedTime(0, clock.GetTimestamp());

    /// <summary>
    /// How long this process has run, from the kernel's own counts (/proc/uptime and the start tick in /proc/self/stat, both since
    /// boot): Process.StartTime is a wall-clock time, so NTP setting the clock during start-up would make "ready in" hours long.
    /// </summary>
    public static TimeSpan ProcessAge()
    {
        var uptime = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        var stat = File.ReadAllText("/proc/self/stat");
        // the command name in parentheses may hold spaces: the fields are counted after its closing one (starttime is field 22)
        var ticks = long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19], System.Globalization.CultureInfo.InvariantCulture);
        const double ClockTicksPerSecond = 100; // USER_HZ, fixed at 100 on every Linux architecture's user ABI
        return TimeSpan.FromSeconds(Math.Max(0, uptime - ticks / ClockTicksPerSecond));
    }
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
