using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Face;

/// <summary>Single-frame presentation-attack score from fr_liveness: the probability that the face is a live person.</summary>
public sealed class LivenessScorer : IDisposable
{
    private readonly ModelSession _model;
    private readonly int _size;
    private readonly BoundModel _run;

    /// <summary>Context around the box the model sees (2.7x in the package's own pre-processing).</summary>
    public float CropScale { get; set; } = 2.7f;
    /// <summary>
    /// BGR, measured (docs/liveness.md): fed BGR, NUAA EER 0.00% and all 4 independent spoof samples ranked right; fed RGB, as the
    /// package's own JS does, NUAA EER 2.8-9.0% and the samples at chance.
    /// </summary>
    public ChannelOrder Channels { get; set; } = ChannelOrder.Bgr;

    public LivenessScorer(ModelSession model)
    {
        _model = model;
        _size = model.InputShape[^1];
        _run = new BoundModel(model, [1, 3, _size, _size]);
    }

    public string ModelId => _model.ModelId;

    /// <summary>The model's input shape [1, 3, S, S] and its length.</summary>
    public long[] InputShape => [1, 3, _size, _size];
    public int InputLength => 3 * _size * _size;

    /// <summary>Fills the model's input with the face and its context, as <see cref="Score"/> feeds it (calibration, timing).</summary>
    public void Prepare(RgbImage image, in BoxF box, Span<float> chw)
    {
        var crop = ClampInside(box.Scale(CropScale), image.Width, image.Height);
        ImageSampler.WarpChw(image, Affine2.BoxToGrid(crop, _size, _size), _size, _size, chw, 1, 0, Channels);
    }

    public float Score(RgbImage image, in BoxF box)
    {
        Prepare(image, box, _run.Input);
        _run.Run();
        var o = _run.Output();
        // the graph may or may not end in a softmax: normalise unless it already sums to one
        float sum = 0;
        foreach (var v in o) sum += v;
        if (MathF.Abs(sum - 1) < 1e-3f && o[0] >= 0) return o[0];
        var max = float.MinValue;
        foreach (var v in o) max = MathF.Max(max, v);
        float z = 0;
        foreach (var v in o) z += MathF.Exp(v - max);
        return MathF.Exp(o[0] - max) / z;
    }

    /// <summary>Shrinks the crop to the image, as the package does, so the model never sees padding it was not trained on.</summary>
    private static BoxF ClampInside(in BoxF b, int w, int h) =>
        new(Math.Max(0, b.X1), Math.Max(0, b.Y1), Math.Min(w, b.X2), Math.Min(h, b.Y2));

    public void Dispose()
    {
        _run.Dispose();
        _model.Dispose();
    }
}
