using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Face;

/// <summary>Single-frame presentation-attack score from a liveness model (fr_liveness, MiniFASNetV2): the probability the face is live.</summary>
public sealed class LivenessScorer : ILivenessOpinion
{
    private readonly ModelSession _model;
    private readonly int _size;
    private readonly BoundModel _run;
    private readonly float _pixelScale;

    public LivenessScorer(ModelSession model)
    {
        _model = model;
        _size = model.InputShape[^1];
        _run = new BoundModel(model, [1, 3, _size, _size]);
        var spec = model.LivenessCrop ?? LivenessCropSpec.FrLiveness;
        CropScale = spec.Scale;
        Channels = spec.Bgr ? ChannelOrder.Bgr : ChannelOrder.Rgb;
        LiveClass = spec.LiveClass;
        Fit = spec.Fit;
        Square = spec.Square;
        _pixelScale = spec.PixelScale;
        Name = model.ModelId;
    }

    /// <summary>Context around the box the model sees (2.7x in both models' own pre-processing).</summary>
    public float CropScale { get; set; }
    /// <summary>
    /// fr_liveness: BGR, measured (docs/liveness.md): fed BGR, NUAA EER 0.00% and all 4 independent spoof samples ranked right; fed
    /// RGB, as the package's own JS does, NUAA EER 2.8-9.0% and the samples at chance.
    /// </summary>
    public ChannelOrder Channels { get; set; }
    /// <summary>How the scaled box meets the image's edges: clamp, shift or pad (<see cref="LivenessCropSpec"/>).</summary>
    public string Fit { get; set; }
    /// <summary>
    /// The fit for a face crop (a tight crop has no context to give): pad keeps the face at the scale the model was trained on, with black
    /// around it. Measured on replay-a's crops (docs/liveness.md): MiniFASNetV2's EER 16.8% with its own crop, 1.95% square and padded;
    /// fr_liveness 68.5% and 20.6%. It is always square.
    /// </summary>
    public string TightCropFit { get; set; } = "pad";
    /// <summary>Make the box square (its larger side) before scaling, so the model's square input is not a stretched face.</summary>
    public bool Square { get; set; }
    public int LiveClass { get; }

    public string ModelId => _model.ModelId;
    /// <summary>The model's id, or the opinion spec it was made from (<see cref="LivenessOpinions.Create"/>).</summary>
    public string Name { get; init; }

    /// <summary>The model's input shape [1, 3, S, S] and its length.</summary>
    public long[] InputShape => [1, 3, _size, _size];
    public int InputLength => 3 * _size * _size;

    /// <summary>Fills the model's input with the face and its context, as <see cref="Score"/> feeds it (calibration, timing).</summary>
    public void Prepare(RgbImage image, in BoxF box, Span<float> chw, bool tightCrop = false)
    {
        var crop = tightCrop ? ContextBox(box, CropScale, TightCropFit, true, image.Width, image.Height)
            : ContextBox(box, CropScale, Fit, Square, image.Width, image.Height);
        ImageSampler.WarpChw(image, Affine2.BoxToGrid(crop, _size, _size), _size, _size, chw, _pixelScale, 0, Channels);
    }

    public float Score(RgbImage image, in BoxF box, bool tightCrop = false)
    {
        Prepare(image, box, _run.Input, tightCrop);
        _run.Run();
        var o = _run.Output();
        if (o.Length == 1) return o[0]; // a sigmoid's probability
        // the graph may or may not end in a softmax: normalise unless it already sums to one
        float sum = 0, min = float.MaxValue;
        foreach (var v in o) { sum += v; min = MathF.Min(min, v); }
        if (MathF.Abs(sum - 1) < 1e-3f && min >= 0) return o[LiveClass];
        var max = float.MinValue;
        foreach (var v in o) max = MathF.Max(max, v);
        float z = 0;
        foreach (var v in o) z += MathF.Exp(v - max);
        return MathF.Exp(o[LiveClass] - max) / z;
    }

    /// <summary>The box scaled about its centre, then fitted to the image as <paramref name="fit"/> says.</summary>
    public static BoxF ContextBox(in BoxF box, float scale, string fit, bool square, int w, int h)
    {
        var face = square ? box.Scale(1, square: true) : box;
        switch (fit)
        {
            case "pad": return face.Scale(scale);
            case "shift":
                {
                    // Silent-Face-Anti-Spoofing's crop: the largest scale up to the asked one that fits, moved inside the image
                    var s = MathF.Min(scale, MathF.Min((h - 1) / MathF.Max(1, face.Height), (w - 1) / MathF.Max(1, face.Width)));
                    var b = face.Scale(s);
                    var dx = b.X1 < 0 ? -b.X1 : b.X2 > w - 1 ? w - 1 - b.X2 : 0;
                    var dy = b.Y1 < 0 ? -b.Y1 : b.Y2 > h - 1 ? h - 1 - b.Y2 : 0;
                    return new BoxF(b.X1 + dx, b.Y1 + dy, b.X2 + dx, b.Y2 + dy);
                }
            default:
                {
                    // fr_liveness's package shrinks the crop to the image, so the model never sees padding it was not trained on
                    var b = face.Scale(scale);
                    return new BoxF(Math.Max(0, b.X1), Math.Max(0, b.Y1), Math.Min(w, b.X2), Math.Min(h, b.Y2));
                }
        }
    }

    public void Dispose()
    {
        _run.Dispose();
        _model.Dispose();
    }
}
