using EchoFace.Access;

namespace EchoFace.Tests.Access;

/// <summary>The prompted-turn check on yaw sequences: in order, back to the centre between turns, a wrong turn fails at once, the deadline holds.</summary>
[Trait("Category", "Unit")]
public class LivenessChallengeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private static LivenessChallenge Challenge(bool mirrored = false, params Turn[] steps) =>
        new(steps, baselineYaw: 2, degrees: 12, TimeSpan.FromSeconds(6), mirrored, T0);

    /// <summary>Feeds yaws one frame (1/15 s) apart.</summary>
    private static ChallengeState Feed(LivenessChallenge c, params float[] yaws)
    {
        var state = c.State;
        for (var i = 0; i < yaws.Length; i++) state = c.Observe(yaws[i], T0 + TimeSpan.FromSeconds((i + 1) / 15.0));
        return state;
    }

    [Fact]
    public void Turns_in_the_asked_order_with_a_return_between_them_pass()
    {
        var c = Challenge(false, Turn.Left, Turn.Right);
        // yaw grows as the nose moves to the image's right: the person's own left
        var s = Feed(c, 3, 8, 15, 21, 16, 10, 4, -3, -12, -19);
        Assert.Equal(ChallengeStatus.Passed, s.Status);
        Assert.Contains("turned left +13.0 deg", s.Detail);
        Assert.Contains("right -14.0 deg", s.Detail);
    }

    [Fact]
    public void The_second_turn_counts_only_after_coming_back_to_the_centre()
    {
        var c = Challenge(false, Turn.Left, Turn.Left);
        // a single long turn is one turn, not two
        Assert.Equal(ChallengeStatus.Pending, Feed(c, 15, 20, 25, 30, 20, 14).Status);
        Assert.Equal(ChallengeStatus.Pending, c.Observe(3, T0.AddSeconds(1)).Status); // back within 6 degrees of the start
        Assert.Equal(ChallengeStatus.Passed, c.Observe(16, T0.AddSeconds(1.2)).Status);
    }

    [Fact]
    public void A_turn_the_wrong_way_fails_at_once()
    {
        var s = Feed(Challenge(false, Turn.Right, Turn.Left), 1, -4, 9, 15);
        Assert.Equal(ChallengeStatus.Failed, s.Status);
        Assert.Contains("turned left +13.0 deg at 0.3 s when asked right", s.Detail);
    }

    [Fact]
    public void A_face_that_no_longer_matches_fails_the_challenge_even_after_the_turns_began()
    {
        var c = Challenge(false, Turn.Left, Turn.Right);
        Feed(c, 16);
        Assert.Equal(ChallengeStatus.Failed, c.Replaced(0.12f, 0.4f).Status);
        Assert.Contains("turned left", c.State.Detail);
        Assert.Contains("a different face during the challenge (match 0.12 < 0.40)", c.State.Detail);
        Assert.Equal(ChallengeStatus.Failed, c.Observe(3, T0.AddSeconds(1)).Status);
    }

    [Fact]
    public void A_mirrored_camera_swaps_the_sides()
    {
        Assert.Equal(ChallengeStatus.Passed, Feed(Challenge(true, Turn.Right), 15).Status);
        Assert.Equal(ChallengeStatus.Failed, Feed(Challenge(true, Turn.Left), 15).Status);
    }

    [Fact]
    public void Small_movements_never_count_and_the_deadline_fails_the_challenge()
    {
        var c = Challenge(false, Turn.Left);
        // a flat print turned in front of the camera reads a few degrees at most (docs/liveness.md)
        Assert.Equal(ChallengeStatus.Pending, Feed(c, 4, 7, 8, 5, -3, -2, 6).Status);
        Assert.False(c.Expired(T0.AddSeconds(5.9)));
        Assert.True(c.Expired(T0.AddSeconds(6.1)));
        Assert.Contains("no left turn within 6 s", c.State.Detail);
        // a turn after the deadline changes nothing
        Assert.Equal(ChallengeStatus.Failed, c.Observe(30, T0.AddSeconds(6.2)).Status);
    }

    [Fact]
    public void A_face_that_leaves_fails_and_turns_are_drawn_at_random()
    {
        var c = Challenge(false, Turn.Left, Turn.Right);
        Feed(c, 20);
        Assert.Contains("turned left", c.Abandon().Detail);
        Assert.Contains("the face left before the right turn", c.State.Detail);

        var drawn = Enumerable.Range(0, 200).SelectMany(_ => LivenessChallenge.RandomSteps(2)).ToList();
        Assert.InRange(drawn.Count(t => t == Turn.Left), 150, 250); // 400 draws: both sides, about half each
        Assert.Equal("Please turn your head to your left, then to your right", c.Prompt);
    }
}
