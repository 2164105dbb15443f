using EchoFace.Face;
using EchoFace.Gallery;
using EchoFace.Media;
using EchoFace.Storage;
using Microsoft.Extensions.Options;

namespace EchoFace.Recognition;

/// <param name="Score">what decided: the first model's cosine, or the fused score under Face.Fusion (Match says which)</param>
public sealed record RecognizedFace(FaceResult Face, string? IdentityId, string? DisplayName, float Score, Candidate[] Candidates)
{
    public MatchScore? Match { get; init; }
}

public sealed record VerifyResult(string IdentityId, float Score, float Threshold, bool Accepted, FaceResult Face)
{
    public MatchScore? Match { get; init; }
}

/// <summary>Face enrolment, 1:N identification and 1:1 verification over the stored gallery: the one place the face path meets storage.</summary>
public sealed class FaceRecognizer
{
    public const string Modality = "face";
    private readonly FacePipeline _pipeline;
    private readonly GalleryStore _store;
    private readonly IOptionsMonitor<MatchOptions> _match;
    private TemplateIndex _index;
    private List<TemplateIndex> _others = [];
    private FusedMatcher _matcher = null!;
    private readonly Func<string, string>? _versionOf;

    public FaceRecognizer(FacePipeline pipeline, GalleryStore store, MatchOptions match, string modelVersion)
        : this(pipeline, store, new FixedOptions<MatchOptions>(match), modelVersion) { }

    /// <param name="match">read at each use: a fleet change of Match applies from the next search</param>
    /// <param name="versionOf">a model's version (its manifest hash), for the templates of the other fused models</param>
    public FaceRecognizer(FacePipeline pipeline, GalleryStore store, IOptionsMonitor<MatchOptions> match, string modelVersion,
        Func<string, string>? versionOf = null)
    {
        _pipeline = pipeline;
        _store = store;
        _match = match;
        _versionOf = versionOf;
        if (pipeline.OtherEmbedders.Count > 0 && versionOf is null) throw new ArgumentException("Face.Fusion needs the other models' versions");
        ModelVersion = modelVersion;
        _index = Index();
    }

    public string ModelVersion { get; private set; }
    /// <summary>The model the gallery's first index holds (Face.Embedder).</summary>
    public string FirstModelId => _pipeline.EmbedderModelId;

    /// <summary>After the pipeline's embedder changed: the gallery holds that model's templates only (the others wait for re-enrolment).</summary>
    public void Reindex(string modelVersion)
    {
        ModelVersion = modelVersion;
        _index = Index();
    }

    /// <summary>The first model's index, and one per other fused model.</summary>
    private TemplateIndex Index()
    {
        var inForce = _pipeline.OtherEmbedders.Select(e => e.ModelId).Append(_pipeline.EmbedderModelId).ToList();
        var first = new TemplateIndex(_store, Modality, _pipeline.EmbedderModelId, _pipeline.EmbeddingDimension, TemplateMode.Multi, inForce);
        _others = [.. _pipeline.OtherEmbedders.Select(e => new TemplateIndex(_store, Modality, e.ModelId, e.Dimension, TemplateMode.Multi, inForce))];
        _matcher = new FusedMatcher(_pipeline, _others);
        return first;
    }

    /// <summary>The index holding a template's model, or null for a model not in force.</summary>
    private TemplateIndex? IndexOf(string modelId)
    {
        if (modelId == _pipeline.EmbedderModelId) return _index;
        for (var m = 0; m < _others.Count; m++) if (_pipeline.OtherEmbedders[m].ModelId == modelId) return _others[m];
        return null;
    }
    public IdentityGallery Gallery => _index.Gallery;
    public MatchOptions Match => _match.CurrentValue;
    /// <summary>Templates made by another face model: they need re-enrolment.</summary>
    public int StaleTemplates => _index.StaleTemplates;

    /// <summary>Every check of a face enrolment, nothing stored: the templates <see cref="Enrolment"/> stores in its transaction.</summary>
    public IReadOnlyList<NewTemplate> PrepareEnrol(string identityId, IReadOnlyList<(string Source, IReadOnlyList<FaceResult> Faces)> analysed, int? faceIndex = null)
    {
        ValidateId(identityId);
        if (analysed.Count == 0) throw new BadInputException("no images given to enrol");
        var templates = new List<NewTemplate>();
        foreach (var (source, faces) in analysed)
        {
            var face = EnrolFace(source, faces, faceIndex, _pipeline.Options.Quality.MinEnrolScore, _pipeline.Options.FocusRatio);
            var best = _index.Gallery.Identify(face.Embedding!, 1);
            if (best.Length > 0 && best[0].IdentityId != identityId && best[0].Score >= Match.IdentifyThreshold)
                throw new BadInputException($"{source}: this face already matches '{best[0].IdentityId}' (similarity {best[0].Score:F2} >= {Match.IdentifyThreshold:F2}); remove that identity first or enrol under it");
            templates.Add(new NewTemplate(Modality, _pipeline.EmbedderModelId, ModelVersion, face.Quality.Score, source, face.Embedding!));
            // under Face.Fusion a template of every fused model, so that each can score this identity
            if (_pipeline.OtherEmbedders.Count == 0) continue;
            var others = (face.Others ?? throw new InvalidOperationException("a fused pipeline's face has no other embeddings")).Get();
            for (var m = 0; m < others.Length; m++)
            {
                var model = _pipeline.OtherEmbedders[m].ModelId;
                templates.Add(new NewTemplate(Modality, model, _versionOf!(model), face.Quality.Score, source, others[m]));
            }
        }
        return templates;
    }

    /// <summary>
    /// The one face of a photo to enrol: the only one in focus (faces far out of focus behind it do not count, Face.FocusRatio), or the
    /// one --face names, of enrolment quality; else why not.
    /// </summary>
    public static FaceResult EnrolFace(string source, IReadOnlyList<FaceResult> faces, int? faceIndex, float minScore, float focusRatio = 0)
    {
        if (faces.Count == 0) throw new BadInputException($"{source}: no face found");
        FaceResult face;
        if (faceIndex is { } index)
        {
            if (index < 0 || index >= faces.Count)
                throw new BadInputException(
                    $"{source}: --face {index} asked for, but the image has {faces.Count} face(s) (0 = the main face: the largest in focus)");
            face = faces[index];
        }
        else if (FacePipeline.InFocus(faces, focusRatio) > 1)
            throw new BadInputException($"{source}: {faces.Count} faces found; pass --face N to say which (0 = the main face: the largest in focus)");
        else face = faces[0];
        if (face.Quality.Score < minScore)
            throw new BadInputException($"{source}: face quality {face.Quality.Score:F2} is below {minScore:F2} " +
                $"(eye distance {face.Quality.EyeDistance:F0} px, sharpness {face.Quality.Sharpness:F0}, yaw {face.Quality.Yaw:F0}, " +
                $"pitch {face.Quality.Pitch:F0}): use a larger, sharper, frontal photo");
        return face;
    }

    /// <summary>Templates stored by someone else's transaction join the in-memory gallery (each its own model's index).</summary>
    public void Added(string identityId, string displayName, IReadOnlyList<long> ids, IReadOnlyList<NewTemplate> templates)
    {
        foreach (var group in templates.Select((t, i) => (t, id: ids[i])).GroupBy(x => x.t.ModelId))
            IndexOf(group.Key)?.Added(identityId, displayName, [.. group.Select(x => x.id)], [.. group.Select(x => x.t.Vector)]);
    }

    public List<RecognizedFace> Identify(RgbImage image) => MatchFaces(_pipeline.Analyze(image));

    /// <summary>Each analysed face against the gallery: the best identity at or above the identify threshold, else unknown.</summary>
    public List<RecognizedFace> MatchFaces(IReadOnlyList<FaceResult> faces)
    {
        var result = new List<RecognizedFace>();
        foreach (var face in faces)
        {
            var candidates = _index.Gallery.Identify(face.Embedding!, Match.TopK);
            var (top, score) = _matcher.Identify(() => face.Others?.Get(), candidates, Match)
                ?? (new Candidate("", -1), new MatchScore(-1, Match.IdentifyThreshold, _pipeline.EmbedderModelId, new Dictionary<string, float>()));
            var known = candidates.Length > 0 && score.Accepted;
            result.Add(new RecognizedFace(face, known ? top.IdentityId : null, known ? _index.Name(top.IdentityId) : null, score.Value, candidates)
            {
                Match = score,
            });
        }
        return result;
    }

    /// <summary>1:1 against the claimed identity, using the main face of the image (the largest in focus).</summary>
    /// <summary>1:1 of one analysed face against an identity with templates (the door's check during a challenge): -1 without.</summary>
    public MatchScore ScoreFace(string identityId, FaceResult face)
    {
        var cosine = _index.Gallery.Verify(identityId, face.Embedding!);
        if (cosine is null) return new MatchScore(-1, Match.VerifyThreshold, _pipeline.EmbedderModelId, new Dictionary<string, float>());
        return _matcher.Verify(identityId, () => face.Others?.Get(), cosine.Value, Match);
    }

    /// <summary>
    /// 1:N of a presence at the door: the first model's mean embedding, and (when fusion needs them) the other models' mean
    /// embeddings, from <paramref name="others"/>. Returns the best candidate (null identity when none) and how it scored.
    /// </summary>
    public (string? IdentityId, MatchScore Score) IdentifyMean(float[] firstMean, Func<float[][]?> others)
    {
        var candidates = _index.Gallery.Identify(firstMean, _matcher.Fusing ? Match.TopK : 1);
        if (_matcher.Identify(others, candidates, Match) is not { } best)
            return (null, new MatchScore(-1, Match.IdentifyThreshold, _pipeline.EmbedderModelId, new Dictionary<string, float>()));
        return (best.Best.IdentityId, best.Score);
    }

    public VerifyResult Verify(string identityId, RgbImage image, string source)
    {
        if (!_index.Knows(identityId)) throw new BadInputException($"unknown identity '{identityId}' (see `echoface people list`)", BadInputKind.NotFound);
        return VerifyAnalysed(identityId, _pipeline.Analyze(image), source);
    }

    public VerifyResult VerifyAnalysed(string identityId, IReadOnlyList<FaceResult> faces, string source)
    {
        if (!_index.Knows(identityId)) throw new BadInputException($"unknown identity '{identityId}' (see `echoface people list`)", BadInputKind.NotFound);
        if (faces.Count == 0) throw new BadInputException($"{source}: no face found");
        var cosine = _index.Gallery.Verify(identityId, faces[0].Embedding!)
                    ?? throw new BadInputException($"'{identityId}' has no face template for model {_pipeline.EmbedderModelId}: enrol a photo first");
        var score = _matcher.Verify(identityId, () => faces[0].Others?.Get(), cosine, Match);
        return new VerifyResult(identityId, score.Value, score.Threshold, score.Accepted, faces[0]) { Match = score };
    }

    /// <summary>
    /// Templates made elsewhere (fleet sync): this modality's templates of the identity are replaced. Each must come from this
    /// device's embedder and have its dimension; the first that does not is the error, and nothing is stored.
    /// </summary>
    public int Import(string identityId, string displayName, string group, IReadOnlyList<NewTemplate> templates, string auditDetail)
    {
        ValidateId(identityId);
        if (templates.Count == 0) throw new BadInputException("no templates to import");
        foreach (var t in templates)
        {
            if (t.Modality != Modality) throw new BadInputException($"template modality '{t.Modality}' is not '{Modality}'");
            if (IndexOf(t.ModelId) is null)
                throw new BadInputException($"template of model '{t.ModelId}': this device embeds faces with '{_pipeline.EmbedderModelId}'; re-enrol from photos instead");
            var dimension = t.ModelId == _pipeline.EmbedderModelId ? _pipeline.EmbeddingDimension
                : _pipeline.OtherEmbedders.First(e => e.ModelId == t.ModelId).Dimension;
            if (t.Vector.Length != dimension || t.Vector.Any(v => !float.IsFinite(v)))
                throw new BadInputException($"template has {t.Vector.Length} values (or non-finite ones); {t.ModelId} makes {dimension}");
        }
        var ids = _store.Replace(identityId, displayName, group, templates, auditDetail);
        RemovedFromIndexes(identityId);
        Added(identityId, displayName, ids, templates);
        return ids.Count;
    }

    public bool Remove(string identityId, string reason)
    {
        if (!_store.Remove(identityId, GalleryStore.Json(new { reason }))) return false;
        RemovedFromIndexes(identityId);
        return true;
    }

    public static void ValidateId(string id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > 128 || id.Any(c => char.IsControl(c) || c == '|'))
            throw new BadInputException($"identity id '{id}' is not valid: use 1-128 printable characters without '|'");
    }

    private void RemovedFromIndexes(string identityId)
    {
        _index.Removed(identityId);
        foreach (var other in _others) other.Removed(identityId);
    }
}
