using EchoFace.Face;
using EchoFace.Gallery;

namespace EchoFace.Recognition;

/// <summary>
/// How a face was scored against an identity: Value is compared with Threshold (a cosine with the first model alone, a fused
/// score under Face.Fusion), Method says which, and PerModel holds each model's cosine where it was computed.
/// </summary>
public sealed record MatchScore(float Value, float Threshold, string Method, IReadOnlyDictionary<string, float> PerModel)
{
    public bool Accepted => Value >= Threshold;
}

/// <summary>
/// Face.Fusion over the gallery: every fused model has its own template index; a face is scored by the first model, and under
/// cascade the others are embedded and compared only when the first model's cosine is between CascadeReject and CascadeAccept.
/// An identity without templates of every fused model (enrolled before fusion was turned on) is scored by the first model alone.
/// </summary>
internal sealed class FusedMatcher(FacePipeline pipeline, IReadOnlyList<TemplateIndex> others)
{
    private FusionOptions Options => pipeline.Options.Fusion;
    private string FirstModel => pipeline.EmbedderModelId;
    public bool Fusing => pipeline.Fusion is not null;

    /// <summary>1:1: the fused (or first-model) score of a face against the identity; <paramref name="others"/> gives the other
    /// models' embeddings when they are needed (null: there are none, and the first model decides alone).</summary>
    public MatchScore Verify(string identityId, Func<float[][]?> others, float firstCosine, MatchOptions match) =>
        Score(identityId, others, firstCosine, match.VerifyThreshold, Options.VerifyThreshold);

    /// <summary>1:N: the candidates the first model found, rescored; the best, or null when there are none.</summary>
    public (Candidate Best, MatchScore Score)? Identify(Func<float[][]?> others, Candidate[] candidates, MatchOptions match)
    {
        if (candidates.Length == 0) return null;
        (Candidate, MatchScore)? best = null;
        for (var i = 0; i < candidates.Length; i++)
        {
            var c = candidates[i];
            var score = Score(c.IdentityId, others, c.Score, match.IdentifyThreshold, Options.IdentifyThreshold);
            var decidedAlone = score.Method.EndsWith(Cascade, StringComparison.Ordinal);
            // the first model decided its best candidate alone: the answer either way; a later one it rejected cannot win
            if (decidedAlone && i == 0) return (c, score);
            if (decidedAlone) continue;
            if (best is null || Margin(score) > Margin(best.Value.Item2)) best = (c, score);
        }
        return best;
    }

    private const string Cascade = "(cascade)";

    private static float Margin(MatchScore s) => s.Value - s.Threshold;

    private MatchScore Score(string identityId, Func<float[][]?> otherEmbeddings, float firstCosine, float firstThreshold, double fusedThreshold)
    {
        var perModel = new Dictionary<string, float> { [FirstModel] = firstCosine };
        if (pipeline.Fusion is not { } fusion || others.Any(o => !o.HasTemplates(identityId)))
            return new MatchScore(firstCosine, firstThreshold, FirstModel, perModel);
        if (Options.Mode == "cascade" && ScoreFusion.Decided(firstCosine, Options) is { } decided)
            return new MatchScore(firstCosine, (float)(decided ? Options.CascadeAccept : Options.CascadeReject), $"{FirstModel} {Cascade}", perModel);
        if (otherEmbeddings() is not { } embeddings) return new MatchScore(firstCosine, firstThreshold, FirstModel, perModel);
        Span<double> cosines = stackalloc double[1 + others.Count];
        cosines[0] = firstCosine;
        for (var m = 0; m < others.Count; m++)
        {
            var cosine = others[m].Gallery.Verify(identityId, embeddings[m]) ?? -1;
            cosines[m + 1] = cosine;
            perModel[pipeline.OtherEmbedders[m].ModelId] = cosine;
        }
        return new MatchScore((float)fusion.Fuse(cosines), (float)fusedThreshold, "fused", perModel);
    }
}
