using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Voice;

namespace EchoFace.Access;

/// <summary>What one modality said: its best identity and score against its own threshold, or why it could not answer.</summary>
public sealed record ModalityAnswer(string Modality, string? IdentityId, float Score, float Threshold, bool Accepted, string? Method, string? Failure)
{
    public static ModalityAnswer Failed(string modality, string why) => new(modality, null, -1, 0, false, null, why);
}

/// <summary>The answer to a photo and/or a recording: who it is (or whether it is the claimed person), how that was decided, and
/// the products of an opted-in customer.</summary>
public sealed record OneShotAnswer(
    string? IdentityId, string? DisplayName, bool Accepted, string DecidedBy, ModalityAnswer? Face, ModalityAnswer? Voice,
    float? FusedScore, float? FusedThreshold, string? Customer, string RecommendationSource, IReadOnlyList<ListedItem> Recommendations);

/// <summary>
/// The source documents' one-shot flow (`main.py --image --audio --user_id --top_k`): face, voice or both. With both, each
/// modality's first-model cosine is z-normalised by its impostor distribution (manifest scoreNorm) and the two are summed as
/// (z_face + z_voice) / sqrt 2, which keeps an impostor's spread, against the stricter of the two thresholds on that scale; when
/// one modality fails (no face, too little speech), the other decides at its own threshold and the answer says so.
/// </summary>
public sealed class OneShotRecognizer(
    FaceRecognizer faces, VoiceRecognizer? voice, GalleryStore store, ShelfRecommendations shelf, ModelManifest manifest)
{
    public sealed record Request(IReadOnlyList<FaceResult>? Faces, VoiceResult? Voice, string? VoiceFailure, string? ClaimedId, int TopK);

    public OneShotAnswer Recognize(Request r)
    {
        if (r.Faces is null && r.Voice is null && r.VoiceFailure is null) throw new BadInputException("give a photo, a recording or both");
        if (r.TopK is < 1 or > 100) throw new BadInputException($"top-k must be 1..100, not {r.TopK}");
        if (r.ClaimedId is { } claimed && store.GetIdentity(claimed) is null)
            throw new BadInputException($"unknown identity '{claimed}' (see `echoface people list`)", BadInputKind.NotFound);
        var face = r.Faces is null ? null : FaceAnswer(r.Faces, r.ClaimedId);
        var spoken = r.Voice is not null ? VoiceAnswer(r.Voice, r.ClaimedId)
            : r.VoiceFailure is null ? null : ModalityAnswer.Failed("voice", r.VoiceFailure);
        var (named, accepted, by, fused, threshold) = Decide(face, spoken, r);
        // a claim is answered about the claimed person; a search names someone only when accepted
        var id = r.ClaimedId ?? (accepted ? named : null);
        var customer = accepted && id is not null ? store.CustomerOf(id) : null;
        var (source, items) = customer is null ? (accepted ? "not an opted-in customer" : "nobody recognised", (IReadOnlyList<ListedItem>)[])
            : Recommend(customer, r.TopK);
        return new OneShotAnswer(id, id is null ? null : store.GetIdentity(id)?.DisplayName, accepted, by, face, spoken, fused, threshold, customer,
            source, items);
    }

    private (string Source, IReadOnlyList<ListedItem> Items) Recommend(string customer, int k)
    {
        var (source, _, _, _, items) = shelf.For(customer, k);
        return (source, items);
    }

    private ModalityAnswer FaceAnswer(IReadOnlyList<FaceResult> found, string? claimed)
    {
        if (found.Count == 0) return ModalityAnswer.Failed("face", "no face found");
        if (claimed is not null)
        {
            if (faces.Gallery.Verify(claimed, found[0].Embedding!) is null) return ModalityAnswer.Failed("face", $"'{claimed}' has no face template");
            var v = faces.VerifyAnalysed(claimed, found, "image");
            return new ModalityAnswer("face", claimed, v.Score, v.Threshold, v.Accepted, v.Match?.Method, null);
        }
        var m = faces.MatchFaces([found[0]])[0];
        var best = m.Candidates.Length > 0 ? m.Candidates[0].IdentityId : null;
        var threshold = m.Match?.Threshold ?? faces.Match.IdentifyThreshold;
        return new ModalityAnswer("face", m.IdentityId ?? best, m.Score, threshold, m.IdentityId is not null, m.Match?.Method, null);
    }

    private ModalityAnswer VoiceAnswer(VoiceResult heard, string? claimed)
    {
        if (voice is null) return ModalityAnswer.Failed("voice", "the speaker models are not loaded");
        if (claimed is not null)
        {
            if (voice.Gallery.Verify(claimed, heard.Embedding) is null) return ModalityAnswer.Failed("voice", $"'{claimed}' has no voice template");
            var v = voice.VerifyAnalysed(claimed, heard);
            return new ModalityAnswer("voice", claimed, v.Score, v.Threshold, v.Accepted, voice.ModelId, null);
        }
        var candidates = voice.Gallery.Identify(heard.Embedding, 1);
        if (candidates.Length == 0) return ModalityAnswer.Failed("voice", "no voice templates enrolled");
        var top = candidates[0];
        var known = top.Score >= voice.Options.IdentifyThreshold;
        return new ModalityAnswer("voice", top.IdentityId, top.Score, voice.Options.IdentifyThreshold, known, voice.ModelId, null);
    }

    private (string? Id, bool Accepted, string By, float? Fused, float? Threshold) Decide(ModalityAnswer? face, ModalityAnswer? spoken, Request r)
    {
        var faceOk = face is { Failure: null };
        var voiceOk = spoken is { Failure: null };
        if (!faceOk && !voiceOk)
        {
            var why = string.Join("; ", new[] { face, spoken }.Where(a => a is not null).Select(a => $"{a!.Modality}: {a.Failure}"));
            return (null, false, $"nothing could decide: {why}", null, null);
        }
        if (!voiceOk) return (face!.IdentityId, face.Accepted, Alone(face, spoken), null, null);
        if (!faceOk) return (spoken!.IdentityId, spoken.Accepted, Alone(spoken, face), null, null);
        return Both(face!, spoken!, r);
    }

    private static string Alone(ModalityAnswer decided, ModalityAnswer? other) =>
        other is null ? decided.Modality : $"{decided.Modality} alone ({other.Modality}: {other.Failure})";

    /// <summary>Both answered: the identities either named, each scored by both galleries, fused; the best margin wins.</summary>
    private (string? Id, bool Accepted, string By, float? Fused, float? Threshold) Both(ModalityAnswer face, ModalityAnswer spoken, Request r)
    {
        var faceNorm = Norm(faces.FirstModelId);
        var voiceNorm = Norm(voice!.ModelId);
        var claimed = r.ClaimedId is not null;
        var faceThreshold = claimed ? faces.Match.VerifyThreshold : faces.Match.IdentifyThreshold;
        var voiceThreshold = claimed ? voice.Options.VerifyThreshold : voice.Options.IdentifyThreshold;
        var threshold = (float)Math.Max(faceNorm.Normalise(faceThreshold), voiceNorm.Normalise(voiceThreshold));
        var probeFace = r.Faces![0].Embedding!;
        var probeVoice = r.Voice!.Embedding;
        string?[] ids = r.ClaimedId is { } c ? [c] : [face.IdentityId, spoken.IdentityId];
        (string? Id, float Fused) best = (null, float.NegativeInfinity);
        foreach (var id in ids.Where(i => i is not null).Distinct())
        {
            // the first face model's cosine: a Face.Fusion score is already on another scale
            if (faces.Gallery.Verify(id!, probeFace) is not { } fc || voice.Gallery.Verify(id!, probeVoice) is not { } vc) continue;
            var fused = (float)((faceNorm.Normalise(fc) + voiceNorm.Normalise(vc)) / Math.Sqrt(2));
            if (fused > best.Fused) best = (id, fused);
        }
        if (best.Id is null)
        {
            // nobody has both templates: the face decides, as the stronger modality on these sets
            return (face.IdentityId, face.Accepted, "face alone (nobody named has both face and voice templates)", null, null);
        }
        return (best.Id, best.Fused >= threshold, "face + voice", best.Fused, threshold);
    }

    private ScoreNorm Norm(string modelId) => manifest.Get(modelId).ScoreNorm
        ?? throw new ModelException($"model '{modelId}' has no scoreNorm in the manifest: face and voice cannot be fused");
}
