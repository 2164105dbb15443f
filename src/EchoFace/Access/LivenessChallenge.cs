using System.Security.Cryptography;

namespace EchoFace.Access;

/// <summary>A head turn to the person's own left or right.</summary>
public enum Turn { Left, Right }

public enum ChallengeStatus { Pending, Passed, Failed }

/// <summary>Where a challenge stands, and in words what the person did (stored in the decision's detail).</summary>
public readonly record struct ChallengeState(ChallengeStatus Status, string Detail);

/// <summary>
/// The liveness challenge: prompted head turns, each left or right at random, checked from the landmark yaw within a deadline.
/// Yaw is read as where the nose sits between the jaw ends; a flat print or screen turned in front of the camera keeps those
/// ratios (an affine view of a plane), so it does not turn, and a replayed video turns the asked way by chance only (one in
/// 2^steps; a wrong turn fails at once). Between two turns the person comes back to within half a turn of where they started.
/// The door also checks that the face stays the one asked (<see cref="Replaced"/>): a print cannot hand over to a live stranger.
/// </summary>
public sealed class LivenessChallenge
{
    private readonly float _baseline, _degrees, _sign;
    private readonly DateTimeOffset _start;
    private readonly List<string> _done = [];
    private int _step;
    private bool _centred = true;

    /// <param name="baselineYaw">the presence's yaw before the prompt (median of its faces).</param>
    /// <param name="mirrored">the camera's image is mirrored: the person's left is on the image's left.</param>
    public LivenessChallenge(IReadOnlyList<Turn> steps, float baselineYaw, float degrees, TimeSpan limit, bool mirrored, DateTimeOffset now)
    {
        if (steps.Count == 0) throw new ArgumentException("a challenge needs at least one turn");
        (Steps, _baseline, _degrees, _sign, _start, Deadline) = (steps, baselineYaw, degrees, mirrored ? -1 : 1, now, now + limit);
    }

    public IReadOnlyList<Turn> Steps { get; }
    public DateTimeOffset Deadline { get; }
    public ChallengeState State { get; private set; } = new(ChallengeStatus.Pending, "");

    /// <summary>Turns drawn with the system's cryptographic generator: a replay cannot learn the order in advance.</summary>
    public static Turn[] RandomSteps(int count) => [.. Enumerable.Range(0, count).Select(_ => RandomNumberGenerator.GetInt32(2) == 0 ? Turn.Left : Turn.Right)];

    /// <summary>A turn as the prompt, the event and the decision's detail name it.</summary>
    public static string Word(Turn turn) => turn == Turn.Left ? "left" : "right";

    /// <summary>What the prompt says.</summary>
    public string Prompt => "Please turn your head to your " + string.Join(", then to your ", Steps.Select(Word));

    /// <summary>One face of the presence: its yaw in degrees (positive: the nose towards the image's right).</summary>
    public ChallengeState Observe(float yaw, DateTimeOffset now)
    {
        if (State.Status != ChallengeStatus.Pending || Expired(now)) return State;
        // positive: turned to the person's own left (a camera facing them sees that as the nose moving to the image's right)
        var delta = (yaw - _baseline) * _sign;
        if (!_centred)
        {
            _centred = MathF.Abs(delta) <= _degrees / 2;
            return State;
        }
        Turn? turned = delta >= _degrees ? Turn.Left : delta <= -_degrees ? Turn.Right : null;
        if (turned is null) return State;
        var what = FormattableString.Invariant($"{Word(turned.Value)} {delta:+0.0;-0.0} deg at {(now - _start).TotalSeconds:F1} s");
        if (turned != Steps[_step])
            return State = new(ChallengeStatus.Failed, Trace($"turned {what} when asked {Word(Steps[_step])}"));
        _done.Add(what);
        (_step, _centred) = (_step + 1, false);
        return State = _step == Steps.Count ? new(ChallengeStatus.Passed, Trace(null)) : new(ChallengeStatus.Pending, Trace(null));
    }

    /// <summary>True (and the state failed) once the deadline passed with turns missing.</summary>
    public bool Expired(DateTimeOffset now)
    {
        if (State.Status == ChallengeStatus.Pending && now > Deadline)
            State = new(ChallengeStatus.Failed, Trace(FormattableString.Invariant($"no {Word(Steps[_step])} turn within {(Deadline - _start).TotalSeconds:0.#} s")));
        return State.Status == ChallengeStatus.Failed;
    }

    /// <summary>A face on the presence no longer matches the person asked to turn: someone else took their place.</summary>
    public ChallengeState Replaced(float score, float threshold)
    {
        if (State.Status == ChallengeStatus.Pending)
            State = new(ChallengeStatus.Failed, Trace(FormattableString.Invariant($"a different face during the challenge (match {score:F2} < {threshold:F2})")));
        return State;
    }

    /// <summary>The presence ended (the face left) before the last turn.</summary>
    public ChallengeState Abandon()
    {
        if (State.Status == ChallengeStatus.Pending) State = new(ChallengeStatus.Failed, Trace($"the face left before the {Word(Steps[_step])} turn"));
        return State;
    }

    private string Trace(string? failure)
    {
        var asked = "asked " + string.Join(", ", Steps.Select(Word)) + FormattableString.Invariant($" from yaw {_baseline:+0.0;-0.0}");
        var done = _done.Count > 0 ? "; turned " + string.Join(", ", _done) : "";
        return asked + done + (failure is null ? "" : "; " + failure);
    }
}
