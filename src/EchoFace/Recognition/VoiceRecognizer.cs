using System.Numerics.Tensors;
using EchoFace.Gallery;
using EchoFace.Storage;
using EchoFace.Voice;

namespace EchoFace.Recognition;

public sealed record VoiceVerifyResult(string IdentityId, float Score, float Threshold, bool Accepted, VoiceResult Voice);

public sealed record VoiceIdentifyResult(string? IdentityId, string? DisplayName, float Score, float Threshold, Candidate[] Candidates, VoiceResult Voice);

/// <summary>Voice enrolment, 1:1 verification and 1:N identification over the same gallery as faces (modality "voice").</summary>
public sealed class VoiceRecognizer
{
    public const string Modality = "voice";
    private readonly VoicePipeline _pipeline;
    private readonly GalleryStore _store;
    private TemplateIndex _index;

    public VoiceRecognizer(VoicePipeline pipeline, GalleryStore store, string modelVersion)
    {
        _pipeline = pipeline;
        _store = store;
        ModelVersion = modelVersion;
        _index = new TemplateIndex(store, Modality, pipeline.EmbedderModelId, pipeline.EmbeddingDimension, pipeline.Options.TemplateMode);
    }

    public string ModelVersion { get; private set; }
    public VoiceOptions Options => _pipeline.Options;
    /// <summary>The model voice templates must come from now, and their size.</summary>
    public string ModelId => _pipeline.EmbedderModelId;
    public int Dimension => _pipeline.EmbeddingDimension;

    /// <summary>After the pipeline's embedder changed: the gallery holds that model's templates only (the others wait for re-enrolment).</summary>
    public void Reindex(string modelVersion)
    {
        ModelVersion = modelVersion;
        _index = new TemplateIndex(_store, Modality, _pipeline.EmbedderModelId, _pipeline.EmbeddingDimension, _pipeline.Options.TemplateMode);
    }
    public IdentityGallery Gallery => _index.Gallery;
    public int StaleTemplates => _index.StaleTemplates;

    /// <summary>The identity was removed from the store elsewhere (every template with it): drop it from the in-memory gallery.</summary>
    public void Forget(string identityId) => _index.Removed(identityId);

    /// <summary>Templates stored by someone else's transaction join the in-memory gallery.</summary>
    public void Added(string identityId, string displayName, IReadOnlyList<long> ids, IReadOnlyList<NewTemplate> templates) =>
        _index.Added(identityId, displayName, ids, [.. templates.Select(t => t.Vector)]);

    /// <summary>
    /// Every check of a voice enrolment, nothing stored: enough speech in each recording, one speaker throughout, not already someone
    /// else. The templates are what <see cref="Enrolment"/> stores in its transaction.
    /// </summary>
    public IReadOnlyList<NewTemplate> PrepareEnrol(string identityId, IReadOnlyList<(string Source, VoiceResult Result)> results)
    {
        FaceRecognizer.ValidateId(identityId);
        if (results.Count == 0) throw new BadInputException("no recordings given to enrol");
        var threshold = Options.VerifyThreshold;
        for (var i = 0; i < results.Count && results.Count > 1; i++)
        {
            // the same person in every recording: each must match the mean of the others
            var others = new float[_pipeline.EmbeddingDimension];
            for (var j = 0; j < results.Count; j++) if (j != i) TensorPrimitives.Add(others, results[j].Result.Embedding, others);
            Inference.Embeddings.Normalize(others);
            var s = TensorPrimitives.Dot(others, results[i].Result.Embedding);
            if (s < threshold)
                throw new BadInputException($"{results[i].Source}: does not sound like the other recordings (similarity {s:F2} < {threshold:F2}); record them again, one speaker only");
        }
        foreach (var (source, result) in results)
        {
            var best = _index.Gallery.Identify(result.Embedding, 1);
            if (best.Length > 0 && best[0].IdentityId != identityId && best[0].Score >= Options.IdentifyThreshold)
                throw new BadInputException($"{source}: this voice already matches '{best[0].IdentityId}' (similarity {best[0].Score:F2} >= {Options.IdentifyThreshold:F2}); remove that identity first or enrol under it");
        }
        return [.. results.Select(r => new NewTemplate(Modality, _pipeline.EmbedderModelId, ModelVersion,
            (float)Math.Min(1, r.Result.SpeechSeconds / 10), r.Source, r.Result.Embedding))];
    }

    public VoiceVerifyResult Verify(string identityId, AudioClip clip, string source)
    {
        if (!_index.Knows(identityId)) throw new BadInputException($"unknown identity '{identityId}' (see `echoface people list`)", BadInputKind.NotFound);
        if (!_index.HasTemplates(identityId))
            throw new BadInputException($"'{identityId}' has no voice template for model {_pipeline.EmbedderModelId}: enrol a recording first (`echoface voice enroll`)");
        return VerifyAnalysed(identityId, _pipeline.Analyze(clip, source));
    }

    /// <summary>1:1 on a recording analysed elsewhere (the HTTP API's own pipeline).</summary>
    public VoiceVerifyResult VerifyAnalysed(string identityId, VoiceResult voice)
    {
        if (!_index.Knows(identityId)) throw new BadInputException($"unknown identity '{identityId}' (see `echoface people list`)", BadInputKind.NotFound);
        if (!_index.HasTemplates(identityId))
            throw new BadInputException($"'{identityId}' has no voice template for model {_pipeline.EmbedderModelId}: enrol a recording first (`echoface voice enroll`)");
        var score = _index.Gallery.Verify(identityId, voice.Embedding)!.Value;
        return new VoiceVerifyResult(identityId, score, Options.VerifyThreshold, score >= Options.VerifyThreshold, voice);
    }

    public VoiceIdentifyResult Identify(AudioClip clip, string source, int topK)
    {
        var voice = _pipeline.Analyze(clip, source);
        var candidates = _index.Gallery.Identify(voice.Embedding, topK);
        var known = candidates.Length > 0 && candidates[0].Score >= Options.IdentifyThreshold;
        var who = known ? candidates[0].IdentityId : null;
        return new VoiceIdentifyResult(who, who is null ? null : _index.Name(who), candidates.Length > 0 ? candidates[0].Score : -1,
            Options.IdentifyThreshold, candidates, voice);
    }
}
