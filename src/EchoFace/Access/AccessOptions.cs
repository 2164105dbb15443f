using System.Globalization;

namespace EchoFace.Access;

/// <summary>Allowed hours on some days, e.g. { "Days": "Mon-Fri", "From": "07:00", "To": "19:00" } (To before From runs past midnight).</summary>
public sealed class ScheduleRule
{
    public string Days { get; set; } = "Mon-Sun";
    public string From { get; set; } = "00:00";
    public string To { get; set; } = "24:00";

    private static readonly string[] DayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

    public bool Allows(DateTime local)
    {
        var (from, to) = (Minutes(From), Minutes(To));
        var minute = local.Hour * 60 + local.Minute;
        if (from <= to) return DayMatches(local.DayOfWeek) && minute >= from && minute < to;
        // past midnight: the early part belongs to the previous day's rule
        return (DayMatches(local.DayOfWeek) && minute >= from) || (DayMatches(local.AddDays(-1).DayOfWeek) && minute < to);
    }

    private bool DayMatches(DayOfWeek day)
    {
        foreach (var part in Days.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            int a = Day(range[0]), b = Day(range[^1]), d = (int)day;
            if (a <= b ? d >= a && d <= b : d >= a || d <= b) return true;
        }
        return false;
    }

    private static int Day(string name)
    {
        var i = Array.FindIndex(DayNames, d => d.Equals(name.Trim()[..Math.Min(3, name.Trim().Length)], StringComparison.OrdinalIgnoreCase));
        return i >= 0 ? i : throw new ArgumentException($"schedule day '{name}' is not one of {string.Join(", ", DayNames)}");
    }

    private static int Minutes(string hhmm)
    {
        if (hhmm == "24:00") return 24 * 60;
        return TimeOnly.TryParseExact(hhmm, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? t.Hour * 60 + t.Minute
            : throw new ArgumentException($"schedule time '{hhmm}' is not HH:mm");
    }

    public void Validate()
    {
        Minutes(From);
        Minutes(To);
        DayMatches(DayOfWeek.Monday);
    }
}

public static class Policies
{
    public const string Face = "face", FaceLiveness = "face+liveness", FaceVoice = "face+voice", Retail = "retail";
    public static readonly string[] All = [Face, FaceLiveness, FaceVoice, Retail];

    /// <summary>Policies that refuse a face below the liveness threshold (a shelf camera opens nothing, so it does not ask).</summary>
    public static bool NeedsLiveness(string policy) => policy is FaceLiveness or FaceVoice;
}

public sealed class AccessOptions
{
    /// <summary>face, face+liveness (default) or face+voice (liveness and then a spoken step-up).</summary>
    public string Policy { get; set; } = Policies.FaceLiveness;
    /// <summary>
    /// fr_liveness "live" probability (median over the presence) at or above which a face counts as live: 0.15, the log-odds middle
    /// between the highest spoof seen (0.036, NUAA) and the lowest live face seen (0.47, a phone photo of a real person); docs/liveness.md.
    /// </summary>
    public float LivenessThreshold { get; set; } = 0.15f;
    /// <summary>
    /// How a presence's liveness is read (policies with liveness): track = the median over the better-quality half of its faces
    /// (a blurred or turned frame neither saves nor sinks a person); single = the best-quality face alone; challenge = track, then
    /// prompted head turns (ChallengeSteps, random left or right) checked from the landmarks within ChallengeSeconds; off = not
    /// checked (the score is still recorded).
    /// </summary>
    public string LivenessMode { get; set; } = "track";
    /// <summary>challenge: how many turns are asked for (each left or right at random: a replayed video passes one in 2^steps).</summary>
    public int ChallengeSteps { get; set; } = 2;
    /// <summary>challenge: time from the prompt to the last turn.</summary>
    public double ChallengeSeconds { get; set; } = 6;
    /// <summary>
    /// challenge: landmark yaw change that counts as a turn. Real turned heads in the shared photos read 18.8-26.5 degrees from the
    /// same person's frontal photo, a flat print of them turned up to 60 degrees at most 8.1 (docs/liveness.md); the person comes
    /// back within half of it between turns.
    /// </summary>
    public float ChallengeTurnDegrees { get; set; } = 14;
    /// <summary>challenge: the camera's image is mirrored (a selfie-style preview), so the person's left is on the image's left.</summary>
    public bool CameraMirrored { get; set; }
    /// <summary>Faces below this quality score are not used for a decision.</summary>
    public float MinQuality { get; set; } = 0.3f;
    /// <summary>Good faces needed before deciding (the debounce: one decision per presence, not per frame).</summary>
    public int MinFaces { get; set; } = 3;
    /// <summary>Good faces after which a presence that matches nobody is denied as unknown.</summary>
    public int MaxFaces { get; set; } = 12;
    /// <summary>A person decided once is not decided again (no second unlock) for this long.</summary>
    public double ReentrySeconds { get; set; } = 10;
    /// <summary>A face unseen for this long has left: its presence ends.</summary>
    public double TrackTimeoutSeconds { get; set; } = 1.5;
    public float TrackIoU { get; set; } = 0.3f;
    /// <summary>Lockout: this many denials within FailureWindowSeconds lock the door against every face for LockoutSeconds.</summary>
    public int MaxFailures { get; set; } = 5;
    public double FailureWindowSeconds { get; set; } = 60;
    public double LockoutSeconds { get; set; } = 60;
    /// <summary>Allowed hours per identity group; a group not listed may enter at any time.</summary>
    public Dictionary<string, List<ScheduleRule>> Schedules { get; set; } = new();
    /// <summary>
    /// A group with a schedule while the wall clock is known to be unset (before this build; a board without an RTC before NTP):
    /// deny (fail-secure, the default: the decision's reason is clock_unset) or allow (the schedule is not applied).
    /// </summary>
    public string UnsetClock { get; set; } = "deny";
    /// <summary>IANA time zone for schedules (default: the system's).</summary>
    public string? TimeZone { get; set; }
    /// <summary>Door decisions keep a picture each (the presence's best frame, annotated) in DATA/snapshots: the newest this many; 0 keeps none.</summary>
    public int SnapshotKeep { get; set; } = 1000;
    /// <summary>face+voice: how long to listen after the prompt.</summary>
    public double VoiceListenSeconds { get; set; } = 5;

    public static readonly string[] LivenessModes = ["off", "single", "track", "challenge"];

    /// <summary>The policy asks for liveness and this door's mode checks it.</summary>
    public bool ChecksLiveness => Policies.NeedsLiveness(Policy) && LivenessMode != "off";

    public void Validate()
    {
        if (UnsetClock is not ("deny" or "allow")) throw new ArgumentException($"Access.UnsetClock must be deny or allow, not '{UnsetClock}'");
        if (!Policies.All.Contains(Policy)) throw new ArgumentException($"Access.Policy must be one of {string.Join(", ", Policies.All)}, not '{Policy}'");
        if (!LivenessModes.Contains(LivenessMode)) throw new ArgumentException($"Access.LivenessMode must be one of {string.Join(", ", LivenessModes)}, not '{LivenessMode}'");
        if (ChallengeSteps is < 1 or > 4) throw new ArgumentException($"Access.ChallengeSteps must be 1..4, not {ChallengeSteps}");
        if (ChallengeSeconds is < 1 or > 30) throw new ArgumentException($"Access.ChallengeSeconds must be in [1, 30], not {ChallengeSeconds}");
        if (ChallengeTurnDegrees is < 10 or > 40) throw new ArgumentException($"Access.ChallengeTurnDegrees must be in [10, 40] (a turned print reads up to 9), not {ChallengeTurnDegrees}");
        if (LivenessThreshold is < 0 or > 1) throw new ArgumentException($"Access.LivenessThreshold must be in [0, 1], not {LivenessThreshold}");
        if (MinQuality is < 0 or > 1) throw new ArgumentException($"Access.MinQuality must be in [0, 1], not {MinQuality}");
        if (MinFaces < 1 || MaxFaces < MinFaces) throw new ArgumentException($"Access.MinFaces must be >= 1 and MaxFaces >= MinFaces (got {MinFaces}, {MaxFaces})");
        if (ReentrySeconds < 0 || TrackTimeoutSeconds <= 0 || FailureWindowSeconds <= 0 || LockoutSeconds < 0 || VoiceListenSeconds is <= 0 or > 60)
            throw new ArgumentException("Access: ReentrySeconds and LockoutSeconds must be >= 0, TrackTimeoutSeconds and FailureWindowSeconds > 0, VoiceListenSeconds in (0, 60]");
        if (SnapshotKeep is < 0 or > 1_000_000) throw new ArgumentException($"Access.SnapshotKeep must be 0..1000000, not {SnapshotKeep}");
        if (MaxFailures < 1) throw new ArgumentException($"Access.MaxFailures must be >= 1, not {MaxFailures}");
        if (TrackIoU is <= 0 or >= 1) throw new ArgumentException($"Access.TrackIoU must be in (0, 1), not {TrackIoU}");
        foreach (var (group, rules) in Schedules)
            foreach (var rule in rules)
            {
                try { rule.Validate(); }
                catch (ArgumentException e) { throw new ArgumentException($"Access.Schedules.{group}: {e.Message}"); }
            }
        Zone();
    }

    public TimeZoneInfo Zone()
    {
        if (TimeZone is null) return TimeZoneInfo.Local;
        try { return TimeZoneInfo.FindSystemTimeZoneById(TimeZone); }
        catch (TimeZoneNotFoundException) { throw new ArgumentException($"Access.TimeZone '{TimeZone}' is not a known time zone (e.g. Europe/Berlin)"); }
    }
}
