using System.Diagnostics;
using EchoFace.Face;
using EchoFace.Hardware;
using EchoFace.Media;
using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Voice;
using Microsoft.Extensions.Logging;

namespace EchoFace.Access;

/// <summary>The models a decision was made with, recorded in every event.</summary>
public sealed record ModelsUsed(string Detector, string Embedder, string EmbedderVersion, string Liveness, string? Voice)
{
    /// <summary>Face.Fusion when on ("sum: fr_feature + faceapi_resnet"): the face score is then a fused one.</summary>
    public string? Fusion { get; init; }
}

/// <summary>One access decision as stored in the outbox and sent to the fleet: outcome, reason and every score and threshold behind it.</summary>
public sealed record AccessDecision(
    string Door, string Outcome, string Reason, string Policy, string? Identity, string? Name, string? Group, int Track, int Faces,
    float FaceScore, float FaceThreshold, float? Liveness, float LivenessThreshold, float Quality,
    float? VoiceScore, float? VoiceThreshold, string? Detail, ModelsUsed Models, double PresenceMs, double FrameToDecisionMs, string? Snapshot = null);

/// <summary>
/// Camera frames to door decisions: detect every frame, track faces, analyse a face only until its presence is decided, apply the
/// door's policy once per presence (with the voice step-up when asked), drive the door and store each decision with the door's
/// state in one transaction.
/// </summary>
public sealed class DoorTerminal
{
    private readonly FacePipeline _pipeline;
    private readonly FaceRecognizer _faces;
    private readonly VoiceRecognizer? _voice;
    private readonly MicrophoneSource _microphone;
    private readonly AccessPolicy _policy;
    private readonly DoorController _door;
    private readonly EventOutbox _outbox;
    private readonly GalleryStore _store;
    private readonly ILogger _log;
    private readonly TimeProvider _clock;
    private readonly FaceTracker _tracker;
    private ModelsUsed _models;
    // held for a whole frame: a model switch waits for the frame in flight and the next one waits for the switch
    private readonly Lock _frame = new();
    private readonly string _doorName;
    private readonly Lock _decide = new();
    private readonly List<Task> _pending = [];
    private readonly CancellationTokenSource _stopping = new();

    public DoorTerminal(FacePipeline pipeline, FaceRecognizer faces, VoiceRecognizer? voice, MicrophoneSource microphone, AccessPolicy policy,
        DoorController door, EventOutbox outbox, GalleryStore store, string doorName, ModelsUsed models, ILogger logger, TimeProvider? clock = null)
    {
        (_pipeline, _faces, _voice, _microphone, _policy, _door, _outbox, _store) = (pipeline, faces, voice, microphone, policy, door, outbox, store);
        (_doorName, _models, _log, _clock) = (doorName, models, logger, clock ?? TimeProvider.System);
        _tracker = new FaceTracker(policy.Options.TrackIoU, TimeSpan.FromSeconds(policy.Options.TrackTimeoutSeconds));
        Live = new LiveView(_clock);
    }

    public TerminalStats Stats { get; } = new();
    /// <summary>The console's live picture (copied only while someone watches).</summary>
    public LiveView Live { get; }
    public event Action<AccessDecision>? Decided;
    /// <summary>Under the retail policy: where a recognised, opted-in customer's products come from.</summary>
    public ShelfRecommendations? Shelf { get; init; }
    /// <summary>Where door decisions leave their picture; null keeps none.</summary>
    public DecisionSnapshots? Snapshots { get; init; }
    /// <summary>The last opted-in customer seen under the retail policy (what the shelf display shows).</summary>
    public CustomerSeen? LatestCustomer { get; private set; }
    /// <summary>Per-stage milliseconds of each frame (detect on every frame; the other stages only while a presence is open).</summary>
    public event Action<StageTimings>? FrameAnalyzed;

    public void Process(CameraFrame frame)
    {
        lock (_frame) ProcessFrame(frame);
    }

    /// <summary>Changes the models between two frames (and outside any gallery change); decisions after it name the new models.</summary>
    public void SwitchModels(ModelsUsed models, Action change)
    {
        lock (_frame)
            lock (_decide)
            {
                change();
                _models = models;
            }
    }

    public ModelsUsed Models => _models;

    private void ProcessFrame(CameraFrame frame)
    {
        var watch = Stopwatch.StartNew();
        var now = _clock.GetUtcNow();
        // the options are live (fleet pushes copy into them): the tracker reads its two each frame
        (_tracker.MinIoU, _tracker.Timeout) = (_policy.Options.TrackIoU, TimeSpan.FromSeconds(_policy.Options.TrackTimeoutSeconds));
        var detected = _pipeline.Analyze(frame.Image, FaceSteps.Detect, out var stages);
        var tracks = _tracker.Update([.. detected.Select(d => d.Box)], now);
        var open = tracks.Where(t => !t.Decided).ToList();
        if (open.Count > 0)
        {
            var analysed = _pipeline.Analyze(frame.Image, FaceSteps.All, out var full);
            stages = full with { Detect = stages.Detect + full.Detect };
            foreach (var face in analysed)
            {
                // the same detector ran twice on the same frame: a face's box is one of the detections
                var i = Enumerable.Range(0, detected.Count).MaxBy(k => detected[k].Box.IoU(face.Box));
                var track = tracks[i];
                Stats.FacesAnalyzed++;
                if (track.Decided) continue;
                KeepBest(track, frame, face);
                if (track.Challenge is { } c)
                {
                    Challenged(c.Check, c.Result.IdentityId!, face, now);
                    continue;
                }
                if (face.Embedding is null || face.Quality.Score < _policy.Options.MinQuality) continue;
                var observed = new FaceObservation(face.Embedding, face.Quality.Score, face.Liveness, face.Box, face.Quality.Yaw);
                if (face.Others is { } others)
                {
                    if (others.Computed || track.WantsOthers) observed.Others = others.Get();
                    else track.Pending = (observed, others);
                }
                track.Observations.Add(observed);
            }
            foreach (var track in open)
                if (track.Challenge is null) Decide(track, frame, presenceOver: false);
            // a cascade's embeddings not asked for this frame: its buffer is the camera's again from the next frame
            foreach (var track in open) track.Pending = null;
        }
        foreach (var track in _tracker.Tracks)
            if (track is { Decided: false, Challenge: { } c } && (c.Check.State.Status != ChallengeStatus.Pending || c.Check.Expired(now)))
                Conclude(track, frame);
        if (Live.Wanted) Live.Offer(frame.Image, Labels(detected, tracks), now);
        else Live.Idle();
        foreach (var gone in _tracker.Expire(now)) Over(gone, frame);
        Stats.Frame(watch.Elapsed.TotalMilliseconds);
        FrameAnalyzed?.Invoke(stages);
    }

    /// <summary>The live view's labels: each detected face with its presence's decision, if it has one.</summary>
    private static FaceLabel[] Labels(IReadOnlyList<FaceResult> detected, Track[] tracks) =>
        [.. detected.Select((d, i) => tracks[i].Label is { } l ? new FaceLabel(d, l.Text, l.Granted) : new FaceLabel(d, "…", false))];

    /// <summary>Copies the frame when this face is the presence's best so far (a few copies per presence; the camera reuses its buffers).</summary>
    private void KeepBest(Track track, CameraFrame frame, FaceResult face)
    {
        if (Snapshots is null || _policy.Options.SnapshotKeep <= 0 || _policy.Options.Policy == Policies.Retail) return;
        if (track.Best is { } best && best.Face.Quality.Score >= face.Quality.Score) return;
        track.Best = (new Media.RgbImage(frame.Image.Width, frame.Image.Height, [.. frame.Image.Data]), face);
    }

    /// <summary>The stream has ended (a file source): every presence still open is over, and gets its decision now.</summary>
    public void Finish(CameraFrame? last)
    {
        var frame = last ?? new CameraFrame(0, _clock.GetUtcNow(), new Media.RgbImage(1, 1));
        foreach (var track in _tracker.Expire(DateTimeOffset.MaxValue)) Over(track, frame);
    }

    /// <summary>A presence has ended: decided with what there is, or its challenge failed if it was still turning.</summary>
    private void Over(Track track, CameraFrame frame)
    {
        if (track.Decided) return;
        if (track.Challenge is { } c)
        {
            c.Check.Abandon();
            Conclude(track, frame);
        }
        else if (track.Observations.Count >= _policy.Options.MinFaces) Decide(track, frame, presenceOver: true);
    }

    /// <summary>Waits for voice step-ups and snapshots in progress (a stopping daemon finishes them rather than lose them).</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        Task[] pending;
        lock (_pending) pending = [.. _pending];
        await Task.WhenAny(Task.WhenAll(pending), Task.Delay(timeout));
    }

    private void Decide(Track track, CameraFrame frame, bool presenceOver)
    {
        PolicyResult r;
        // the policy's counters and the store are shared with voice step-ups finishing on other threads
        lock (_decide) r = _policy.Evaluate(track, mean => Identify(track, mean), GroupOf, presenceOver);
        switch (r.Verdict)
        {
            case Verdict.Wait: return;
            case Verdict.Ignore:
                track.Decided = true;
                _log.LogDebug("Track {Track}: {Identity} seen again within the re-entry time", track.Id, r.IdentityId);
                return;
            case Verdict.Grant or Verdict.Deny when _policy.Options.Policy == Policies.Retail:
                track.Decided = true;
                if (r.Verdict == Verdict.Grant) Seen(track, frame, r);
                return;
            case Verdict.Challenge when presenceOver:
                track.Decided = true;
                Final(track, frame, r, false, "challenge_failed", detail: "the face left before the liveness challenge");
                return;
            case Verdict.Challenge:
                StartChallenge(track, r);
                return;
            case Verdict.StepUp:
                StartStepUp(track, frame, r);
                return;
            default:
                track.Decided = true;
                Final(track, frame, r, r.Verdict == Verdict.Grant, r.Reason);
                return;
        }
    }

    private void StartStepUp(Track track, CameraFrame frame, PolicyResult r)
    {
        track.Decided = true;
        Pending(Task.Run(() => StepUpAsync(track, frame, r)));
    }

    /// <summary>Work a stopping daemon waits for (voice step-ups, snapshots being written).</summary>
    private void Pending(Task task)
    {
        lock (_pending)
        {
            _pending.RemoveAll(t => t.IsCompleted);
            _pending.Add(task);
        }
    }

    /// <summary>Prompts the prompted head turns; the presence stays open (its faces feed the check) until they pass, fail or time out.</summary>
    private void StartChallenge(Track track, PolicyResult r)
    {
        var o = _policy.Options;
        var baseline = AccessPolicy.Median(track.Observations.Select(f => f.Yaw)) ?? 0;
        var check = new LivenessChallenge(LivenessChallenge.RandomSteps(o.ChallengeSteps), baseline, o.ChallengeTurnDegrees,
            TimeSpan.FromSeconds(o.ChallengeSeconds), o.CameraMirrored, _clock.GetUtcNow());
        track.Challenge = (check, r);
        var steps = check.Steps.Select(LivenessChallenge.Word).ToArray();
        _outbox.Append("prompt", _doorName, new { type = "liveness_challenge", identity = r.IdentityId, track = track.Id, turns = steps, seconds = o.ChallengeSeconds, say = check.Prompt });
        _log.LogInformation("Liveness challenge at {Door}, track {Track}: turn {Turns} within {Seconds} s", _doorName, track.Id, string.Join(" ", steps), o.ChallengeSeconds);
    }

    /// <summary>
    /// One face of a presence being challenged: a face good enough to match must still be the person asked (else someone took
    /// their place), and its yaw counts towards the turns whatever its quality (a turned face is what was asked for).
    /// </summary>
    private void Challenged(LivenessChallenge check, string identityId, FaceResult face, DateTimeOffset now)
    {
        if (face.Embedding is not null && face.Quality.Score >= _policy.Options.MinQuality)
        {
            Recognition.MatchScore score;
            lock (_decide) score = _faces.ScoreFace(identityId, face);
            if (!score.Accepted)
            {
                check.Replaced(score.Value, score.Threshold);
                return;
            }
        }
        check.Observe(face.Quality.Yaw, now);
    }

    /// <summary>A challenge has its outcome: the turns done lead on (grant, or the voice step-up), anything else is a denial.</summary>
    private void Conclude(Track track, CameraFrame frame)
    {
        var (check, r) = track.Challenge!.Value;
        if (check.State.Status == ChallengeStatus.Pending) return;
        if (check.State.Status == ChallengeStatus.Failed)
        {
            track.Decided = true;
            Final(track, frame, r, false, "challenge_failed", detail: check.State.Detail);
            return;
        }
        var next = _policy.AfterLiveness(r);
        if (next.Verdict == Verdict.StepUp) StartStepUp(track, frame, next);
        else
        {
            track.Decided = true;
            Final(track, frame, next, true, "face match and liveness challenge", detail: check.State.Detail);
        }
    }

    private async Task StepUpAsync(Track track, CameraFrame frame, PolicyResult face)
    {
        if (_voice is null || !_microphone.Available)
        {
            Final(track, frame, face, false, "voice_unavailable", detail: "face+voice policy without a microphone or voice model");
            return;
        }
        var listen = _policy.Options.VoiceListenSeconds;
        _outbox.Append("prompt", _doorName, new { type = "voice_prompt", identity = face.IdentityId, track = track.Id, listenSeconds = listen, say = "Please say a sentence" });
        try
        {
            var samples = await _microphone.ListenAsync(TimeSpan.FromSeconds(listen), _stopping.Token);
            // under the frame lock: a live model switch must not swap the speaker model in the middle of this
            VoiceVerifyResult v;
            lock (_frame) v = _voice.Verify(face.IdentityId!, new AudioClip(samples), "microphone");
            Final(track, frame, face, v.Accepted, v.Accepted ? "face and voice match" : "voice_rejected", v.Score, v.Threshold);
        }
        catch (BadInputException e)
        {
            Final(track, frame, face, false, "voice_no_speech", detail: e.Message);
        }
        catch (IOException e)
        {
            Final(track, frame, face, false, "voice_unavailable", detail: e.Message);
        }
    }

    /// <summary>The presence's mean embedding against the gallery; under a fusion cascade the other models run only when asked for.</summary>
    private (string?, float, float) Identify(Track track, float[] mean)
    {
        var (id, score) = _faces.IdentifyMean(mean, () =>
        {
            track.WantsOthers = true;
            if (track.Pending is { } p) p.Face.Others = p.Others.Get();
            track.Pending = null;
            return AccessPolicy.WeightedOtherMeans(track.Observations);
        });
        return (id, score.Value, score.Threshold);
    }

    private string GroupOf(string identityId) => _store.GetIdentity(identityId)?.Group ?? "default";

    private void Final(Track track, CameraFrame frame, PolicyResult r, bool granted, string reason, float? voiceScore = null, float? voiceThreshold = null, string? detail = null)
    {
        AccessDecision decision;
        // the picture is named now and written after the door has moved (rendering and sealing it take ~30 ms on two cores)
        var best = track.Best;
        track.Best = null;
        var snapshotAt = _clock.GetUtcNow();
        var snapshot = best is not null && Snapshots is { Writable: true } && _policy.Options.SnapshotKeep > 0
            ? DecisionSnapshots.NameFor(snapshotAt, track.Id) : null;
        lock (_decide)
        {
            var lockout = _policy.Record(r.IdentityId, granted);
            if (granted) _door.Grant(r.IdentityId!);
            var now = _clock.GetUtcNow();
            var who = r.IdentityId is null ? null : _store.GetIdentity(r.IdentityId);
            decision = new AccessDecision(_doorName, granted ? "granted" : "denied", reason, _policy.Options.Policy, r.IdentityId, who?.DisplayName, who?.Group,
                track.Id, r.Faces, r.FaceScore, r.FaceThreshold ?? _faces.Match.IdentifyThreshold, r.Liveness, _policy.Options.LivenessThreshold, r.Quality,
                voiceScore, voiceThreshold, detail, _models, (now - track.FirstSeen).TotalMilliseconds, (now - frame.CapturedAt).TotalMilliseconds, snapshot);
            _outbox.Append("access", _doorName, decision, _door.State.ToString());
            track.Label = ($"{who?.DisplayName ?? r.IdentityId ?? "unknown"} {decision.Outcome}", granted);
            if (lockout)
                _outbox.Append("alarm", _doorName, new { type = "lockout", until = _policy.LockedUntil, failures = _policy.Options.MaxFailures, windowSeconds = _policy.Options.FailureWindowSeconds }, _door.State.ToString());
            Stats.Decision(granted, decision.FrameToDecisionMs);
        }
        if (snapshot is not null)
            Pending(Task.Run(() => Snapshots!.Save(best!.Value.Frame, best.Value.Face, $"{r.IdentityId ?? "unknown"} {decision.Outcome} {reason}", granted, snapshotAt, track.Id)));
        _log.LogInformation("Access {Outcome} at {Door}: {Reason}, identity {Identity}, face {Score:F3}, liveness {Liveness:F3}",
            decision.Outcome, _doorName, reason, r.IdentityId ?? "unknown", r.FaceScore, r.Liveness ?? -1);
        Decided?.Invoke(decision);
    }

    /// <summary>
    /// Retail: a match to a customer who opted in yields a customer_seen event with their products. Anyone else (a stranger, or an
    /// enrolled person with no opt-in) leaves no trace: no event, no log line naming them, no lockout count.
    /// </summary>
    private void Seen(Track track, CameraFrame frame, PolicyResult r)
    {
        string? customer;
        lock (_decide) customer = _store.CustomerOf(r.IdentityId!); // the store's connection is shared with fleet and API changes
        if (customer is null) return;
        var (source, version, model, cold, items) = Shelf?.For(customer) ?? ("none", null, null, false, []);
        var now = _clock.GetUtcNow();
        var seen = new CustomerSeen(_doorName, customer, r.FaceScore, r.FaceThreshold ?? _faces.Match.IdentifyThreshold, track.Id, r.Faces,
            source, version, model, cold, items, (now - frame.CapturedAt).TotalMilliseconds, now);
        lock (_decide)
        {
            _policy.Record(r.IdentityId, granted: true); // re-entry: one event per visit, not one per glance
            _outbox.Append("customer_seen", _doorName, seen);
            LatestCustomer = seen;
        }
        _log.LogInformation("Customer {Customer} seen at {Shelf}: {Count} products from {Source}", customer, _doorName, items.Count, source);
    }

    public void Stop() => _stopping.Cancel();

    /// <summary>Runs a change to the gallery (fleet sync) while no decision is being made: the frame loop searches it under the same lock.</summary>
    public T Exclusive<T>(Func<T> change)
    {
        lock (_decide) return change();
    }
}
