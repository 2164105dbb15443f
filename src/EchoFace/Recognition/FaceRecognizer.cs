using EchoFace.Face;
using EchoFace.Gallery;
using EchoFace.Media;
using EchoFace.Storage;
using Microsoft.Extensions.Options;

namespace EchoFace.Recognition;

public sealed record RecognizedFace(FaceResult Face, string? IdentityId, string? DisplayName, float Score, Candidate[] Candidates);

public sealed record VerifyResult(string IdentityId, float Score, float Threshold, bool Accepted, FaceResult Face);

/// <summary>Face enrolment, 1:N identification and 1:1 verification over the stored gallery: the one place the face path meets storage.</summary>
public sealed class FaceRecognizer
{
    public const string Modality = "face";
    private readonly FacePipeline _pipeline;
    private readonly GalleryStore _store;
    private readonly IOptionsMonitor<MatchOptions> _match;
    private TemplateIndex _index;

    public FaceRecognizer(FacePipeline pipeline, GalleryStore store, MatchOptions match, string modelVersion)
        : this(pipeline, store, new FixedOptions<MatchOptions>(match), modelVersion) { }

    /// <param name="match">read at each use: a fleet change of Match applies from the next search</param>
    public FaceRecognizer(FacePipeline pipeline, GalleryStore store, IOptionsMonitor<MatchOptions> match, string modelVersion)
    {
        _pipeline = pipeline;
        _store = store;
        _match = match;
        ModelVersion = modelVersion;
        _index = new TemplateIndex(store, Modality, pipeline.EmbedderModelId, pipeline.EmbeddingDimension, TemplateMode.Multi);
    }

    public string ModelVersion { get; private set; }

    /// <summary>After the pipeline's embedder changed: the gallery holds that model's templates only (the others wait for re-enrolment).</summary>
    public void Reindex(string modelVersion)
    {
        ModelVersion = modelVersion;
        _index = new TemplateIndex(_store, Modality, _pipeline.EmbedderModelId, _pipeline.EmbeddingDimension, TemplateMode.Multi);
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
            if (faces.Count == 0) throw new BadInputException($"{source}: no face found");
            FaceResult face;
            if (faceIndex is { } index)
            {
                if (index < 0 || index >= faces.Count) throw new BadInputException($"{source}: --face {index} asked for, but the image has {faces.Count} face(s) (0 = largest)");
                face = faces[index];
            }
            else if (faces.Count > 1) throw new BadInputException($"{source}: {faces.Count} faces found; pass --face N to say which (0 = largest)");
            else face = faces[0];
            if (face.Quality.Score < _pipeline.Options.Quality.MinEnrolScore)
                throw new BadInputException($"{source}: face quality {face.Quality.Score:F2} is below {_pipeline.Options.Quality.MinEnrolScore:F2} " +
                    $"(eye distance {face.Quality.EyeDistance:F0} px, sharpness {face.Quality.Sharpness:F0}, yaw {face.Quality.Yaw:F0}, pitch {face.Quality.Pitch:F0}): use a larger, sharper, frontal photo");
            var best = _index.Gallery.Identify(face.Embedding!, 1);
            if (best.Length > 0 && best[0].IdentityId != identityId && best[0].Score >= Match.IdentifyThreshold)
                throw new BadInputException($"{source}: this face already matches '{best[0].IdentityId}' (similarity {best[0].Score:F2} >= {Match.IdentifyThreshold:F2}); remove that identity first or enrol under it");
            templates.Add(new NewTemplate(Modality, _pipeline.EmbedderModelId, ModelVersion, face.Quality.Score, source, face.Embedding!));
        }
        return templates;
    }

    /// <summary>Templates stored by someone else's transaction join the in-memory gallery.</summary>
    public void Added(string identityId, string displayName, IReadOnlyList<long> ids, IReadOnlyList<NewTemplate> templates) =>
        _index.Added(identityId, displayName, ids, [.. templates.Select(t => t.Vector)]);

    public List<RecognizedFace> Identify(RgbImage image) => MatchFaces(_pipeline.Analyze(image));

    /// <summary>Each analysed face against the gallery: the best identity at or above the identify threshold, else unknown.</summary>
    public List<RecognizedFace> MatchFaces(IReadOnlyList<FaceResult> faces)
    {
        var result = new List<RecognizedFace>();
        foreach (var face in faces)
        {
            var candidates = _index.Gallery.Identify(face.Embedding!, Match.TopK);
            var top = candidates.Length > 0 ? candidates[0] : new Candidate("", -1);
            var known = candidates.Length > 0 && top.Score >= Match.IdentifyThreshold;
            result.Add(new RecognizedFace(face, known ? top.IdentityId : null, known ? _index.Name(top.IdentityId) : null, top.Score, candidates));
        }
        return result;
    }

    /// <summary>1:1 against the claimed identity, using the largest face in the image.</summary>
    public VerifyResult Verify(string identityId, RgbImage image, string source)
    {
        if (!_index.Knows(identityId)) throw new BadInputException($"unknown identity '{identityId}' (see `echoface people list`)", BadInputKind.NotFound);
        return VerifyAnalysed(identityId, _pipeline.Analyze(image), source);
    }

    public VerifyResult VerifyAnalysed(string identityId, IReadOnlyList<FaceResult> faces, string source)
    {
        if (!_index.Knows(identityId)) throw new BadInputException($"unknown identity '{identityId}' (see `echoface people list`)", BadInputKind.NotFound);
        if (faces.Count == 0) throw new BadInputException($"{source}: no face found");
        var score = _index.Gallery.Verify(identityId, faces[0].Embedding!)
                    ?? throw new BadInputException($"'{identityId}' has no face template for model {_pipeline.EmbedderModelId}: enrol a photo first");
        return new VerifyResult(identityId, score, Match.VerifyThreshold, score >= Match.VerifyThreshold, faces[0]);
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
            if (t.ModelId != _pipeline.EmbedderModelId)
                throw new BadInputException($"template of model '{t.ModelId}': this device embeds faces with '{_pipeline.EmbedderModelId}'; re-enrol from photos instead");
            if (t.Vector.Length != _pipeline.EmbeddingDimension || t.Vector.Any(v => !float.IsFinite(v)))
                throw new BadInputException($"template has {t.Vector.Length} values (or non-finite ones); {_pipeline.EmbedderModelId} makes {_pipeline.EmbeddingDimension}");
        }
        var ids = _store.Replace(identityId, displayName, group, templates, auditDetail);
        _index.Removed(identityId);
        _index.Added(identityId, displayName, ids, [.. templates.Select(t => t.Vector)]);
        return ids.Count;
    }

    public bool Remove(string identityId, string reason)
    {
        if (!_store.Remove(identityId, GalleryStore.Json(new { reason }))) return false;
        _index.Removed(identityId);
        return true;
    }

    public static void ValidateId(string id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > 128 || id.Any(c => char.IsControl(c) || c == '|'))
            throw new BadInputException($"identity id '{id}' is not valid: use 1-128 printable characters without '|'");
    }
}
