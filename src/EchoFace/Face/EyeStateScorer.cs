using System.Numerics;
using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Face;

/// <summary>
/// Eye openness from eye-blink-cnn (FaceONNX, MIT): each eye cropped around its six 68-point landmarks (36-41, 42-47), <see cref="Margin"/> times their
/// width, at the model's 34:26 aspect, grey, /255, [1, 26, 34, 1]; output the probability that the eye is open.
/// </summary>
public sealed class EyeStateScorer : IDisposable
{
    public const int Width = 34, Height = 26;
    private readonly ModelSession _model;
    private readonly BoundModel _run;

    public EyeStateScorer(ModelSession model)
    {
        _model = model;
        _run = new BoundModel(model, [1, Height, Width, 1]);
    }

    public string ModelId => _model.ModelId;
    /// <summary>
    /// Crop width over the eye corners' span. 1.0, measured: on the 114 open-eyed faces of the shared photos both eyes read open in 77
    /// at 1.0, 65 at 1.2 (the model's original demo), 46 at 1.5; docs/liveness.md.
    /// </summary>
    public float Margin { get; set; } = 1.0f;

    /// <summary>Open probability of the left and right eye (image left to right); null when the landmarks are not the 68-point set.</summary>
    public (float Left, float Right)? Score(RgbImage image, Vector2[] landmarks)
    {
        if (landmarks.Length != 68) return null;
        return (Eye(image, landmarks.AsSpan(36, 6)), Eye(image, landmarks.AsSpan(42, 6)));
    }

    private float Eye(RgbImage image, ReadOnlySpan<Vector2> points)
    {
        float x1 = float.MaxValue, x2 = float.MinValue, y1 = float.MaxValue, y2 = float.MinValue;
        foreach (var p in points)
        {
            (x1, x2, y1, y2) = (Math.Min(x1, p.X), Math.Max(x2, p.X), Math.Min(y1, p.Y), Math.Max(y2, p.Y));
        }
        var w = Math.Max(4f, (x2 - x1) * Margin);
        var h = w * Height / Width;
        var (cx, cy) = ((x1 + x2) / 2, (y1 + y2) / 2);
        var box = new BoxF(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
        ImageSampler.WarpGrey(image, Affine2.BoxToGrid(box, Width, Height), Width, Height, _run.Input, 1 / 255f, 0);
        _run.Run();
        return _run.Output()[0];
    }

    public void Dispose()
    {
        _run.Dispose();
        _model.Dispose();
    }
}
