using EchoFace.Media;

namespace EchoFace.Face;

/// <summary>
/// Face.LivenessFusion: the opinions whose weighed sum decides a face's liveness (logistic regression fitted by `eval liveness --fit`,
/// docs/liveness.md). Opinions empty: Face.Liveness's probability alone.
/// </summary>
public sealed class LivenessFusionOptions
{
    /// <summary>
    /// Opinion specs (<see cref="LivenessOpinions.Create"/>): fr_liveness on a square box and MiniFASNetV2, fitted on replay-a and the NUAA
    /// subset (docs/liveness.md); the screen cues measured there added nothing out of fold.
    /// </summary>
    public List<string> Opinions { get; set; } = ["fr_liveness:square", "minifasnet_v2"];
    /// <summary>One weight per opinion: on a model's log-odds, on a cue's value.</summary>
    public List<double> Weights { get; set; } = [4.578, 4.909];
    /// <summary>Moved so that Access.LivenessThreshold (0.15) is where the fitted regression's balanced decision lies.</summary>
    public double Bias { get; set; } = 12.022;

    public bool Enabled => Opinions.Count > 0;

    public LivenessFusionOptions Copy() => new() { Opinions = [.. Opinions], Weights = [.. Weights], Bias = Bias };

    public void Validate()
    {
        if (!Enabled) return;
        if (Weights.Count != Opinions.Count)
            throw new ArgumentException($"Face.LivenessFusion.Weights needs one value per opinion ({Opinions.Count}), not {Weights.Count}");
        if (Weights.Any(w => !double.IsFinite(w)) || !double.IsFinite(Bias))
            throw new ArgumentException("Face.LivenessFusion weights and bias must be finite numbers");
        if (Opinions.Distinct().Count() != Opinions.Count) throw new ArgumentException("Face.LivenessFusion.Opinions names an opinion twice");
    }
}

/// <summary>A face's single-frame liveness under Face.LivenessFusion: sigmoid(bias + sum of weight x feature) over the opinions it owns.</summary>
public sealed class LivenessFusion : IDisposable
{
    private readonly ILivenessOpinion[] _opinions;
    private readonly double[] _weights;
    private readonly double _bias;
    private readonly float[] _scores;

    public LivenessFusion(IReadOnlyList<ILivenessOpinion> opinions, LivenessFusionOptions options)
    {
        if (opinions.Count != options.Weights.Count) throw new ArgumentException($"{opinions.Count} opinions for {options.Weights.Count} weights");
        _opinions = [.. opinions];
        _weights = [.. options.Weights];
        _bias = options.Bias;
        _scores = new float[_opinions.Length];
    }

    public IReadOnlyList<ILivenessOpinion> Opinions => _opinions;
    /// <summary>Each opinion's score of the last face (<see cref="Score"/>).</summary>
    public ReadOnlySpan<float> LastScores => _scores;

    public float Score(RgbImage image, in BoxF box, bool tightCrop = false)
    {
        for (var i = 0; i < _opinions.Length; i++) _scores[i] = _opinions[i].Score(image, box, tightCrop);
        return Combine(_scores);
    }

    /// <summary>The fused probability of opinions' scores given in <see cref="Opinions"/>' order.</summary>
    public float Combine(ReadOnlySpan<float> scores)
    {
        var z = _bias;
        for (var i = 0; i < _opinions.Length; i++) z += _weights[i] * LivenessOpinions.Feature(_opinions[i].Name, scores[i]);
        return LivenessOpinions.Sigmoid((float)z);
    }

    public void Dispose()
    {
        foreach (var o in _opinions) o.Dispose();
    }
}
