using System.Numerics.Tensors;
using EchoFace.Inference;
using Microsoft.Extensions.Options;

namespace EchoFace.Access;

public enum Verdict { Wait, Ignore, Grant, Deny, StepUp, Challenge }

/// <summary>What the policy made of a presence: the verdict, why, and every number that led to it.</summary>
public sealed record PolicyResult(Verdict Verdict, string Reason, string? IdentityId, float FaceScore, float? Liveness, float Quality, int Faces)
{
    /// <summary>What FaceScore was compared with: Match.IdentifyThreshold, or Face.Fusion's under fusion.</summary>
    public float? FaceThreshold { get; init; }
}

/// <summary>
/// The rules of one door, free of cameras and hardware: aggregate a presence's faces (quality-weighted mean embedding, median
/// liveness, as Frigate weighs a track), then match, liveness, schedule, re-entry and lockout, in that order.
/// </summary>
/// <remarks>The options are read at each use: a fleet change of Access or Match applies from the next decision.</remarks>
public sealed class AccessPolicy(IOptionsMonitor<AccessOptions> access, IOptionsMonitor<Gallery.MatchOptions> matching, TimeProvider clock)
{
    private readonly Queue<DateTimeOffset> _failures = new();
    private readonly Dictionary<string, DateTimeOffset> _lastDecided = new();
    private (string? Id, TimeZoneInfo Zone) _zone = (access.CurrentValue.TimeZone, access.CurrentValue.Zone());

    public AccessPolicy(AccessOptions options, Gallery.MatchOptions match, TimeProvider clock)
        : this(new FixedOptions<AccessOptions>(options), new FixedOptions<Gallery.MatchOptions>(match), clock) { }

    private Gallery.MatchOptions Match => matching.CurrentValue;

    /// <summary>The schedules' time zone, looked up again only when a pushed Access.TimeZone changed it.</summary>
    private TimeZoneInfo Zone()
    {
        if (_zone.Id != Options.TimeZone) _zone = (Options.TimeZone, Options.Zone());
        return _zone.Zone;
    }

    public AccessOptions Options => access.CurrentValue;
    /// <summary>The lockout's end on the wall clock, for people; whether it holds is decided on the monotonic clock.</summary>
    public DateTimeOffset LockedUntil { get; private set; } = DateTimeOffset.MinValue;
    private DateTimeOffset _lockoutEnds = DateTimeOffset.MinValue;
    public bool LockedOut => Monotonic.Now(clock) < _lockoutEnds;

    /// <param name="identify">1:N search of an embedding: best identity and score (null identity when the gallery is empty).</param>
    /// <param name="groupOf">the identity's group, for schedules.</param>
    /// <param name="presenceOver">the person has left: decide with what there is.</param>
    public PolicyResult Evaluate(Track track, Func<float[], (string? Id, float Score)> identify, Func<string, string> groupOf, bool presenceOver) =>
        Evaluate(track, e =>
        {
            var (id, score) = identify(e);
            return (id, score, Match.IdentifyThreshold);
        }, groupOf, presenceOver);

    /// <param name="identify">1:N search of the presence's mean embedding: best identity, its score and the threshold that score
    /// is held to (Match.IdentifyThreshold, or Face.Fusion's for a fused score).</param>
    public PolicyResult Evaluate(Track track, Func<float[], (string? Id, float Score, float Threshold)> identify, Func<string, string> groupOf,
        bool presenceOver)
    {
        var faces = track.Observations;
        if (faces.Count < Options.MinFaces) return new PolicyResult(Verdict.Wait, "too few good faces yet", null, 0, null, 0, faces.Count);
        var embedding = WeightedMean(faces);
        var (id, score, threshold) = identify(embedding);
        var live = PresenceLiveness(faces, Options.LivenessMode);
        var quality = faces.Max(f => f.Quality);
        PolicyResult Result(Verdict v, string reason, string? who = null) =>
            new(v, reason, who, score, live, quality, faces.Count) { FaceThreshold = threshold };

        if (LockedOut) return Result(Verdict.Deny, "locked_out", id is not null && score >= threshold ? id : null);
        if (id is null || score < threshold)
            return faces.Count >= Options.MaxFaces || presenceOver ? Result(Verdict.Deny, "unknown_face") : Result(Verdict.Wait, "no match yet");
        var now = clock.GetUtcNow();
        if (_lastDecided.TryGetValue(id, out var last) && Monotonic.Now(clock) - last < TimeSpan.FromSeconds(Options.ReentrySeconds))
            return Result(Verdict.Ignore, "re-entry", id);
        if (Options.ChecksLiveness && (live ?? 0) < Options.LivenessThreshold) return Result(Verdict.Deny, "liveness_failed", id);
        if (Options.Schedules.TryGetValue(groupOf(id), out var rules) && !(WallClock.Unset(now) && Options.UnsetClock == "allow"))
        {
            // a schedule read off a clock that is known to be wrong would open the door at the wrong hours
            if (WallClock.Unset(now)) return Result(Verdict.Deny, "clock_unset", id);
            var local = TimeZoneInfo.ConvertTime(now, Zone()).DateTime;
            if (!rules.Any(r => r.Allows(local))) return Result(Verdict.Deny, "outside_schedule", id);
        }
        // the prompted turns come last: nobody is asked to turn who would be refused anyway
        if (Options.ChecksLiveness && Options.LivenessMode == "challenge") return Result(Verdict.Challenge, "liveness challenge", id);
        return AfterLiveness(Result(Verdict.Grant, "face match", id));
    }

    /// <summary>What a presence that passed liveness (and its challenge) gets: the voice step-up under face+voice, else the grant.</summary>
    public PolicyResult AfterLiveness(PolicyResult r) =>
        Options.Policy == Policies.FaceVoice ? r with { Verdict = Verdict.StepUp, Reason = "voice step-up" } : r with { Verdict = Verdict.Grant, Reason = "face match" };

    /// <summary>Remembers a final decision; a denial counts towards lockout. True when this denial engaged the lockout.</summary>
    public bool Record(string? identityId, bool granted)
    {
        // re-entry, the failure window and the lockout run on the monotonic clock
        var now = Monotonic.Now(clock);
        if (identityId is not null) _lastDecided[identityId] = now;
        if (granted) return false;
        _failures.Enqueue(now);
        while (_failures.Count > 0 && now - _failures.Peek() > TimeSpan.FromSeconds(Options.FailureWindowSeconds)) _failures.Dequeue();
        if (_failures.Count < Options.MaxFailures || LockedOut) return false;
        _lockoutEnds = now + TimeSpan.FromSeconds(Options.LockoutSeconds);
        LockedUntil = clock.GetUtcNow() + TimeSpan.FromSeconds(Options.LockoutSeconds);
        _failures.Clear();
        return true;
    }

    /// <summary>track: median liveness of the better-quality half of the faces (at least one); single: the best-quality face's.</summary>
    public static float? PresenceLiveness(IReadOnlyList<FaceObservation> faces, string mode)
    {
        var scored = faces.Where(f => f.Liveness is not null).OrderByDescending(f => f.Quality).ToList();
        if (scored.Count == 0) return null;
        if (mode == "single") return scored[0].Liveness;
        return Median(scored.Take(Math.Max(1, (scored.Count + 1) / 2)).Select(f => f.Liveness!.Value));
    }

    /// <summary>Larger, sharper faces weigh more: the mean of the embeddings weighted by quality, re-normalised.</summary>
    public static float[] WeightedMean(IReadOnlyList<FaceObservation> faces) => WeightedMean(faces, f => f.Embedding);

    /// <summary>The same mean of another model's embeddings (Face.Fusion), over the faces that have them; null when none has.</summary>
    public static float[][]? WeightedOtherMeans(IReadOnlyList<FaceObservation> faces)
    {
        var with = faces.Where(f => f.Others is not null).ToList();
        if (with.Count == 0) return null;
        return [.. Enumerable.Range(0, with[0].Others!.Length).Select(m => WeightedMean(with, f => f.Others![m]))];
    }

    private static float[] WeightedMean(IReadOnlyList<FaceObservation> faces, Func<FaceObservation, float[]> embedding)
    {
        var mean = new float[embedding(faces[0]).Length];
        var scaled = new float[mean.Length];
        foreach (var f in faces)
        {
            TensorPrimitives.Multiply(embedding(f), Math.Max(1e-3f, f.Quality), scaled);
            TensorPrimitives.Add(mean, scaled, mean);
        }
        Embeddings.Normalize(mean);
        return mean;
    }

    public static float? Median(IEnumerable<float> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return null;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
