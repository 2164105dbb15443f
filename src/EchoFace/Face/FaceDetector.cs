using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Face;

public readonly record struct Detection(BoxF Box, float Score);

/// <summary>UltraFace (RFB-320 fr_detect, or the 640 variant): the graph already decodes priors, so only threshold + NMS remain.</summary>
public sealed class FaceDetector : IDisposable
{
    private readonly ModelSession _model;
    private readonly int _w, _h;
    private readonly BoundModel _run;
    private readonly int _scores, _boxes;
    private readonly List<Detection> _candidates = [];

    public float ScoreThreshold { get; set; } = 0.7f;
    public float NmsIoU { get; set; } = 0.3f;

    public FaceDetector(ModelSession model)
    {
        _model = model;
        var shape = model.InputShape; // [1,3,H,W]
        if (shape.Length != 4 || shape[1] != 3) throw new ModelException($"{model.ModelId}: expected a [1,3,H,W] input, got [{string.Join(",", shape)}]");
        (_h, _w) = (shape[2], shape[3]);
        if (!model.OutputNames.Contains("scores") || !model.OutputNames.Contains("boxes"))
            throw new ModelException($"{model.ModelId}: expected outputs 'scores' and 'boxes', got {string.Join(", ", model.OutputNames)}");
        _run = new BoundModel(model, [1, 3, _h, _w]);
        (_scores, _boxes) = (_run.OutputIndex("scores"), _run.OutputIndex("boxes"));
    }

    public string ModelId => _model.ModelId;
    public string Provider => _model.Provider;

    /// <summary>The model's input shape [1, 3, H, W].</summary>
    public long[] InputShape => [1, 3, _h, _w];

    /// <summary>Fills the model's input from an image; returns the map from the input grid back to the image.</summary>
    public Affine2 Prepare(RgbImage image, Span<float> chw)
    {
        // plain resize of the whole frame (no letterbox), RGB, (x - 127) / 128 as the model was trained
        var map = Affine2.BoxToGrid(new BoxF(0, 0, image.Width, image.Height), _w, _h);
        ImageSampler.WarpChw(image, map, _w, _h, chw, 1f / 128, -127f / 128);
        return map;
    }

    public List<Detection> Detect(RgbImage image, float? threshold = null)
    {
        var minScore = threshold ?? ScoreThreshold;
        Prepare(image, _run.Input);
        _run.Run();
        ReadOnlySpan<float> scores = _run.Output(_scores), boxes = _run.Output(_boxes);
        var candidates = _candidates;
        candidates.Clear();
        var count = scores.Length / 2;
        for (var i = 0; i < count; i++)
        {
            var score = scores[2 * i + 1];
            if (score < minScore) continue;
            var b = boxes.Slice(4 * i, 4);
            candidates.Add(new Detection(new BoxF(
                Math.Clamp(b[0], 0, 1) * image.Width, Math.Clamp(b[1], 0, 1) * image.Height,
                Math.Clamp(b[2], 0, 1) * image.Width, Math.Clamp(b[3], 0, 1) * image.Height), score));
        }
        return NonMaximumSuppression(candidates, NmsIoU);
    }

    public static List<Detection> NonMaximumSuppression(List<Detection> candidates, float iou)
    {
        candidates.Sort((a, b) => b.Score.CompareTo(a.Score));
        var kept = new List<Detection>();
        foreach (var c in candidates)
        {
            if (c.Box.Width < 2 || c.Box.Height < 2) continue;
            var overlaps = false;
            foreach (var k in kept)
                if (k.Box.IoU(c.Box) > iou) { overlaps = true; break; }
            if (!overlaps) kept.Add(c);
        }
        return kept;
    }

    public void Dispose()
    {
        _run.Dispose();
        _model.Dispose();
    }
}
