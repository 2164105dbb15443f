using System.Numerics;
using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Evaluation;

/// <summary>
/// The reference RetinaFace (retinaface_reference: no licence, so evaluation only and never shipped) as a yardstick for the
/// pipeline's 5 points: where it puts a face's eyes, nose and mouth corners, to measure the landmarks' error and what the
/// embedders would score with better points (eval faces --align-reference, docs/pose.md).
/// </summary>
public sealed class ReferenceAlignment(ModelSession model) : IDisposable
{
    public const string ModelId = "retinaface_reference";

    // Pytorch_Retinaface's mobilenet0.25 configuration: anchors per stride, box variances, BGR means
    private static readonly (int Step, int[] Sizes)[] Anchors = [(8, [16, 32]), (16, [64, 128]), (32, [256, 512])];
    private const float CentreVariance = 0.1f, SizeVariance = 0.2f;
    private static readonly float[] MeanBgr = [104, 117, 123];
    private const int Side = 640;
    private const float MinScore = 0.5f;

    /// <summary>The reference's box and 5 points (left eye, right eye, nose, mouth left, mouth right) for the face that overlaps
    /// <paramref name="near"/> most, or null when it finds none there.</summary>
    public (BoxF Box, Vector2[] Points)? Find(RgbImage image, BoxF near)
    {
        // tight crops (CFP, Yale B) get the context a detector needs, as the pipeline's own retry gives them
        var pad = (int)MathF.Round(0.25f * Math.Max(image.Width, image.Height));
        var found = FindIn(image.Pad(pad), near.Offset(pad, pad));
        if (found is not { } f) return null;
        return (f.Box.Offset(-pad, -pad), [.. f.Points.Select(p => p - new Vector2(pad, pad))]);
    }

    private (BoxF Box, Vector2[] Points)? FindIn(RgbImage image, BoxF near)
    {
        // letterbox into a Side x Side square from the top left, the rest black, as the reference was run
        var side = Math.Max(image.Width, image.Height);
        var map = Affine2.BoxToGrid(new BoxF(0, 0, side, side), Side, Side);
        var chw = new float[3 * Side * Side];
        ImageSampler.WarpChw(image, map, Side, Side, chw, 1, 0, ChannelOrder.Bgr);
        for (var c = 0; c < 3; c++) System.Numerics.Tensors.TensorPrimitives.Subtract(chw.AsSpan(c * Side * Side, Side * Side), MeanBgr[c],
            chw.AsSpan(c * Side * Side, Side * Side));
        using var input = OrtValue.CreateTensorValueFromMemory(chw, [1, 3, Side, Side]);
        using var outputs = model.Run([model.InputName], [input], model.OutputNames);
        float[]? loc = null, conf = null, marks = null;
        foreach (var o in outputs)
        {
            var shape = o.GetTensorTypeAndShape().Shape;
            var data = o.GetTensorDataAsSpan<float>().ToArray();
            switch (shape[^1])
            {
                case 4: loc = data; break;
                case 2: conf = data; break;
                case 10: marks = data; break;
            }
        }
        if (loc is null || conf is null || marks is null)
            throw new ModelException($"{ModelId}: expected outputs of 4 (boxes), 2 (scores) and 10 (landmarks) values per anchor");
        var best = (Score: 0f, Box: default(BoxF), Points: Array.Empty<Vector2>());
        var i = 0;
        foreach (var (step, sizes) in Anchors)
        {
            var (rows, cols) = ((Side + step - 1) / step, (Side + step - 1) / step);
            for (var y = 0; y < rows; y++)
                for (var x = 0; x < cols; x++)
                    foreach (var size in sizes)
                    {
                        var score = conf[2 * i + 1];
                        if (score >= MinScore)
                        {
                            var (cx, cy, s) = ((x + 0.5f) * step, (y + 0.5f) * step, (float)size);
                            var centre = new Vector2(cx + loc[4 * i] * CentreVariance * s, cy + loc[4 * i + 1] * CentreVariance * s);
                            var (w, h) = (s * MathF.Exp(loc[4 * i + 2] * SizeVariance), s * MathF.Exp(loc[4 * i + 3] * SizeVariance));
                            var box = Image(map, new BoxF(centre.X - w / 2, centre.Y - h / 2, centre.X + w / 2, centre.Y + h / 2));
                            var overlap = box.IoU(near);
                            if (overlap > 0.3f && overlap * score > best.Score)
                                best = (overlap * score, box, [.. Enumerable.Range(0, 5).Select(k => map.Apply(new Vector2(
                                    cx + marks[10 * i + 2 * k] * CentreVariance * s, cy + marks[10 * i + 2 * k + 1] * CentreVariance * s)))]);
                        }
                        i++;
                    }
        }
        if (i * 2 != conf.Length) throw new ModelException($"{ModelId}: {conf.Length / 2} anchors, the configuration makes {i}");
        return best.Score > 0 ? (best.Box, best.Points) : null;
    }

    private static BoxF Image(Affine2 map, BoxF grid)
    {
        var (a, b) = (map.Apply(new Vector2(grid.X1, grid.Y1)), map.Apply(new Vector2(grid.X2, grid.Y2)));
        return new BoxF(a.X, a.Y, b.X, b.Y);
    }

    /// <summary>The mean distance of the pipeline's 5 points from the reference's, as a fraction of the reference box's height.</summary>
    public static float Error(ReadOnlySpan<Vector2> points, ReadOnlySpan<Vector2> reference, BoxF box)
    {
        var sum = 0f;
        for (var k = 0; k < 5; k++) sum += Vector2.Distance(points[k], reference[k]);
        return sum / 5 / box.Height;
    }

    public void Dispose() => model.Dispose();
}
