using EchoFace.Access;
using EchoFace.Face;
using Microsoft.Extensions.Time.Testing;

namespace EchoFace.Tests.Access;

/// <summary>The door's rules without camera or hardware: debounce, match, liveness, schedules, re-entry, lockout; and the tracker.</summary>
[Trait("Category", "Unit")]
public class AccessPolicyTests
{
    // Monday 23 Nov 2026, 09:00 UTC
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));

    private AccessPolicy Policy(AccessOptions? o = null) => new(o ?? new AccessOptions { TimeZone = "UTC" }, new EchoFace.Gallery.MatchOptions { IdentifyThreshold = 0.45f }, _clock);

    private static Track Presence(int faces, float liveness = 0.9f)
    {
        var track = new Track(1, new BoxF(0, 0, 100, 100), DateTimeOffset.UnixEpoch);
        for (var i = 0; i < faces; i++) track.Observations.Add(new FaceObservation([1, 0], 0.8f, liveness, track.Box));
        return track;
    }

    private static (string?, float) Alice(float[] _) => ("alice", 0.8f);
    private static (string?, float) Nobody(float[] _) => ("alice", 0.2f);

    [Fact]
    public void Waits_for_enough_good_faces_then_grants_a_live_match()
    {
        var policy = Policy();
        Assert.Equal(Verdict.Wait, policy.Evaluate(Presence(2), Alice, _ => "default", false).Verdict);
        var r = policy.Evaluate(Presence(3), Alice, _ => "default", false);
        Assert.Equal(Verdict.Grant, r.Verdict);
        Assert.Equal("alice", r.IdentityId);
        Assert.Equal(0.9f, r.Liveness);
    }

    [Fact]
    public void Unknown_faces_are_denied_after_max_faces_or_when_they_leave()
    {
        var policy = Policy();
        Assert.Equal(Verdict.Wait, policy.Evaluate(Presence(3), Nobody, _ => "default", false).Verdict);
        Assert.Equal("unknown_face", policy.Evaluate(Presence(12), Nobody, _ => "default", false).Reason);
        Assert.Equal("unknown_face", policy.Evaluate(Presence(3), Nobody, _ => "default", presenceOver: true).Reason);
    }

    [Fact]
    public void A_photo_like_presence_fails_liveness_unless_the_policy_is_face_only()
    {
        Assert.Equal("liveness_failed", Policy().Evaluate(Presence(3, liveness: 0.1f), Alice, _ => "default", false).Reason);
        var faceOnly = Policy(new AccessOptions { Policy = Policies.Face, TimeZone = "UTC" });
        Assert.Equal(Verdict.Grant, faceOnly.Evaluate(Presence(3, liveness: 0.1f), Alice, _ => "default", false).Verdict);
        var voice = Policy(new AccessOptions { Policy = Policies.FaceVoice, TimeZone = "UTC" });
        Assert.Equal(Verdict.StepUp, voice.Evaluate(Presence(3), Alice, _ => "default", false).Verdict);
    }

    [Fact]
    public void Presence_liveness_reads_the_better_quality_half_or_the_best_face()
    {
        FaceObservation Face(float quality, float live) => new([1, 0], quality, live, new BoxF(0, 0, 1, 1));
        // two sharp live faces, one blurred frame that looked like a print, one more middling
        List<FaceObservation> faces = [Face(0.9f, 0.95f), Face(0.2f, 0.01f), Face(0.8f, 0.90f), Face(0.5f, 0.40f)];
        Assert.Equal(0.925f, AccessPolicy.PresenceLiveness(faces, "track")!.Value, 3);
        Assert.Equal(0.95f, AccessPolicy.PresenceLiveness(faces, "single"));
        Assert.Null(AccessPolicy.PresenceLiveness([new FaceObservation([1], 1, null, default)], "track"));
    }

    [Fact]
    public void Schedules_allow_a_group_only_in_its_hours()
    {
        var o = new AccessOptions { TimeZone = "UTC", Schedules = { ["staff"] = [new ScheduleRule { Days = "Mon-Fri", From = "07:00", To = "19:00" }], ["night"] = [new ScheduleRule { Days = "Sun-Thu", From = "22:00", To = "06:00" }] } };
        o.Validate();
        var policy = Policy(o);
        Assert.Equal(Verdict.Grant, policy.Evaluate(Presence(3), Alice, _ => "staff", false).Verdict);
        Assert.Equal("outside_schedule", policy.Evaluate(Presence(3), Alice, _ => "night", false).Reason);
        Assert.Equal(Verdict.Grant, policy.Evaluate(Presence(3), Alice, _ => "visitors", false).Verdict); // no rules: any time
        _clock.SetUtcNow(new DateTimeOffset(2026, 11, 24, 3, 0, 0, TimeSpan.Zero)); // Tuesday 03:00: Monday night's shift
        Assert.Equal(Verdict.Grant, policy.Evaluate(Presence(3), Alice, _ => "night", false).Verdict);
        Assert.Equal("outside_schedule", policy.Evaluate(Presence(3), Alice, _ => "staff", false).Reason);
        _clock.SetUtcNow(new DateTimeOffset(2026, 11, 28, 10, 0, 0, TimeSpan.Zero)); // Saturday
        Assert.Equal("outside_schedule", policy.Evaluate(Presence(3), Alice, _ => "staff", false).Reason);
    }

    [Fact]
    public void A_pushed_time_zone_applies_to_the_next_decision()
    {
        static AccessOptions Staff(string zone) =>
            new() { TimeZone = zone, Schedules = { ["staff"] = [new ScheduleRule { Days = "Mon-Fri", From = "07:00", To = "19:00" }] } };
        var config = new EchoFace.Configuration.EchoFaceConfig { Access = Staff("UTC") };
        config.Match.IdentifyThreshold = 0.45f;
        // the daemon's wiring: the policy reads the sections in force through their monitors
        var inForce = new EchoFace.Configuration.ConfigurationInForce(config);
        var policy = new AccessPolicy(inForce.Monitor(c => c.Access, "Access"), inForce.Monitor(c => c.Match, "Match"), _clock);
        var told = 0;
        using var listening = inForce.Monitor(c => c.Access, "Access").OnChange((_, _) => told++);
        _clock.SetUtcNow(new DateTimeOffset(2026, 11, 23, 20, 0, 0, TimeSpan.Zero)); // Monday 20:00 UTC: after hours
        Assert.Equal("outside_schedule", policy.Evaluate(Presence(3), Alice, _ => "staff", false).Reason);
        // a fleet push of the Access section, applied by the shadow: 15:00 in New York
        inForce.Apply(new EchoFace.Configuration.EchoFaceConfig { Access = Staff("America/New_York") }, ["Access"]);
        Assert.Equal(Verdict.Grant, policy.Evaluate(Presence(3), Alice, _ => "staff", false).Verdict);
        Assert.Equal(1, told);
        Assert.Equal(0.45f, inForce.Current.Match.IdentifyThreshold); // a section that did not change stays as it was
    }

    [Fact]
    public void A_person_is_not_decided_again_within_the_reentry_time()
    {
        var policy = Policy();
        policy.Record("alice", granted: true);
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(Verdict.Ignore, policy.Evaluate(Presence(3), Alice, _ => "default", false).Verdict);
        _clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(Verdict.Grant, policy.Evaluate(Presence(3), Alice, _ => "default", false).Verdict);
    }

    [Fact]
    public void Repeated_denials_lock_the_door_out_for_the_lockout_time()
    {
        var policy = Policy(new AccessOptions { TimeZone = "UTC", MaxFailures = 3, FailureWindowSeconds = 60, LockoutSeconds = 120 });
        Assert.False(policy.Record(null, false));
        _clock.Advance(TimeSpan.FromSeconds(70)); // the first falls out of the window
        Assert.False(policy.Record(null, false));
        Assert.False(policy.Record(null, false));
        Assert.True(policy.Record(null, false));
        Assert.True(policy.LockedOut);
        Assert.Equal("locked_out", policy.Evaluate(Presence(3), Alice, _ => "default", false).Reason);
        _clock.Advance(TimeSpan.FromSeconds(121));
        Assert.Equal(Verdict.Grant, policy.Evaluate(Presence(3), Alice, _ => "default", false).Verdict);
    }

    [Fact]
    public void Challenge_mode_asks_for_turns_only_of_a_live_match_and_off_skips_liveness()
    {
        var challenge = Policy(new AccessOptions { TimeZone = "UTC", LivenessMode = "challenge" });
        var r = challenge.Evaluate(Presence(3), Alice, _ => "default", false);
        Assert.Equal(Verdict.Challenge, r.Verdict);
        Assert.Equal("alice", r.IdentityId);
        Assert.Equal("liveness_failed", challenge.Evaluate(Presence(3, liveness: 0.01f), Alice, _ => "default", false).Reason);
        Assert.Equal(Verdict.Grant, challenge.AfterLiveness(r).Verdict);
        var voice = Policy(new AccessOptions { TimeZone = "UTC", LivenessMode = "challenge", Policy = Policies.FaceVoice });
        Assert.Equal(Verdict.StepUp, voice.AfterLiveness(voice.Evaluate(Presence(3), Alice, _ => "default", false)).Verdict);

        var off = Policy(new AccessOptions { TimeZone = "UTC", LivenessMode = "off" });
        var granted = off.Evaluate(Presence(3, liveness: 0.01f), Alice, _ => "default", false);
        Assert.Equal(Verdict.Grant, granted.Verdict);
        Assert.Equal(0.01f, granted.Liveness); // still recorded
    }

    [Fact]
    public void Bad_settings_are_refused_naming_the_key()
    {
        Assert.Contains("Access.LivenessMode", Assert.Throws<ArgumentException>(() => new AccessOptions { LivenessMode = "blink" }.Validate()).Message);
        Assert.Contains("Access.ChallengeTurnDegrees", Assert.Throws<ArgumentException>(() => new AccessOptions { ChallengeTurnDegrees = 6 }.Validate()).Message);
        Assert.Contains("Access.ChallengeSteps", Assert.Throws<ArgumentException>(() => new AccessOptions { ChallengeSteps = 0 }.Validate()).Message);
        Assert.Contains("Access.Policy", Assert.Throws<ArgumentException>(() => new AccessOptions { Policy = "face+iris" }.Validate()).Message);
        Assert.Contains("Access.Schedules.staff", Assert.Throws<ArgumentException>(() =>
            new AccessOptions { Schedules = { ["staff"] = [new ScheduleRule { From = "7am" }] } }.Validate()).Message);
        Assert.Contains("Access.TimeZone", Assert.Throws<ArgumentException>(() => new AccessOptions { TimeZone = "Mars/Olympus" }.Validate()).Message);
    }

    [Fact]
    public void The_tracker_follows_a_moving_face_and_ends_its_presence_after_the_timeout()
    {
        var tracker = new FaceTracker(0.3f, TimeSpan.FromSeconds(1.5));
        var t0 = DateTimeOffset.UnixEpoch;
        var first = tracker.Update([new BoxF(100, 100, 200, 200), new BoxF(400, 100, 500, 200)], t0);
        var second = tracker.Update([new BoxF(410, 105, 510, 205), new BoxF(105, 102, 205, 202)], t0.AddMilliseconds(100));
        Assert.Same(first[0], second[1]);
        Assert.Same(first[1], second[0]);
        Assert.Empty(tracker.Expire(t0.AddSeconds(1)));
        tracker.Update([new BoxF(106, 102, 206, 202)], t0.AddSeconds(1));
        var gone = Assert.Single(tracker.Expire(t0.AddSeconds(2)));
        Assert.Same(first[1], gone);
        Assert.NotSame(first[0], tracker.Update([new BoxF(600, 300, 700, 400)], t0.AddSeconds(2))[0]);
    }
}
