using EchoFace.Inference;

namespace EchoFace.Face;

/// <summary>
/// Face.Fusion: the face embedders whose scores are fused, their weights, and when the second one runs. Measured by
/// `eval faces --fuse` (docs/fusion.md).
/// </summary>
public sealed class FusionOptions
{
    /// <summary>off: Face.Embedder alone. sum: every model embeds every face. cascade: the second model only where the first is undecided.</summary>
    public string Mode { get; set; } = "off";
    /// <summary>The models fused, the pipeline's own first; each needs a scoreNorm in the manifest.</summary>
    public List<string> Embedders { get; set; } = ["fr_feature", "faceapi_resnet", "mobilefacenet_128"];
    /// <summary>
    /// Weight of each model's normalised score, in Embedders' order: the weight with the highest mean TAR at FAR 1e-3 and 1e-4
    /// over photos, yaleb and celeba, the development sets (docs/fusion.md).
    /// </summary>
    public List<double> Weights { get; set; } = [0.2, 0.4, 0.4];
    /// <summary>Fused score at or above which a 1:1 claim is accepted: the mean of the FAR 1e-2 thresholds of the development sets.</summary>
    public double VerifyThreshold { get; set; } = 2.55;
    /// <summary>Fused score at or above which a 1:N search names someone: the mean of their FAR 1e-3 thresholds.</summary>
    public double IdentifyThreshold { get; set; } = 3.0;
    /// <summary>cascade: a first-model cosine at or above this decides "same" alone (its FAR 1e-4 on every development set).</summary>
    public double CascadeAccept { get; set; } = 0.58;
    /// <summary>cascade: a first-model cosine below this decides "different" alone.</summary>
    public double CascadeReject { get; set; } = 0.15;
    /// <summary>cascade: the share of comparisons the first model leaves undecided (photos 8%, yaleb 27%, celeba 8%), for Face.Budget.</summary>
    public double CascadeShare { get; set; } = 0.15;
    /// <summary>Mean TAR at FAR 1e-3 over photos, yaleb and celeba at these weights, without and with the flip (docs/fusion.md).</summary>
    public double Accuracy { get; set; } = 0.9770;
    public double FlipAccuracy { get; set; } = 0.9786;

    public FusionOptions Copy() => new()
    {
        Mode = Mode, Embedders = [.. Embedders], Weights = [.. Weights], VerifyThreshold = VerifyThreshold, IdentifyThreshold = IdentifyThreshold,
        CascadeAccept = CascadeAccept, CascadeReject = CascadeReject, CascadeShare = CascadeShare, Accuracy = Accuracy, FlipAccuracy = FlipAccuracy,
    };

    public void Validate()
    {
        if (Mode is not ("off" or "sum" or "cascade")) throw new ArgumentException($"Face.Fusion.Mode must be off, sum or cascade, not '{Mode}'");
        if (CascadeReject >= CascadeAccept)
            throw new ArgumentException($"Face.Fusion.CascadeReject ({CascadeReject}) must be below Face.Fusion.CascadeAccept ({CascadeAccept})");
        if (CascadeShare is < 0 or > 1) throw new ArgumentException($"Face.Fusion.CascadeShare must be in [0, 1], not {CascadeShare}");
        if (Embedders.Count < 2) throw new ArgumentException("Face.Fusion.Embedders must name at least two face embedders");
        if (Weights.Count != Embedders.Count)
            throw new ArgumentException($"Face.Fusion.Weights has {Weights.Count} values for {Embedders.Count} embedders");
        if (Weights.Any(w => w < 0) || Weights.Sum() <= 0) throw new ArgumentException("Face.Fusion.Weights must be >= 0 and not all 0");
    }
}

/// <summary>
/// Score-level fusion: each model's cosine is z-normalised by its impostor distribution (a property of the model, kept in its
/// manifest entry) and the normalised scores are summed with weights. Scores of different models are on different scales (an
/// impostor pair is ~0.0 for fr_feature and ~0.5 for faceapi_resnet), so a plain mean of cosines would let one model dominate.
/// </summary>
public sealed class ScoreFusion
{
    private readonly ScoreNorm[] _norms;
    private readonly double[] _weights;

    public ScoreFusion(IReadOnlyList<ScoreNorm> norms, IReadOnlyList<double> weights)
    {
        if (norms.Count != weights.Count) throw new ArgumentException($"{norms.Count} score norms for {weights.Count} weights");
        var sum = weights.Sum();
        _norms = [.. norms];
        _weights = [.. weights.Select(w => w / sum)];
    }

    public int Models => _norms.Length;

    /// <summary>cascade: the first model's cosine decides alone (true: same, false: different), or null when the second is needed.</summary>
    public static bool? Decided(double firstCosine, FusionOptions options) =>
        firstCosine >= options.CascadeAccept ? true : firstCosine < options.CascadeReject ? false : null;

    public double Fuse(ReadOnlySpan<double> cosines)
    {
        if (cosines.Length != _norms.Length) throw new ArgumentException($"{cosines.Length} scores for {_norms.Length} models");
        double fused = 0;
        for (var m = 0; m < cosines.Length; m++) fused += _weights[m] * _norms[m].Normalise(cosines[m]);
        return fused;
    }
}
