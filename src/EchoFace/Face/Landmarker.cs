using System.Numerics;
using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Face;

/// <summary>68-point landmarks (iBUG 300-W order) on a face box; both models answer in coordinates relative to their crop.</summary>
public sealed class Landmarker : IDisposable
{
    private readonly ModelSession _model;
    private readonly int _size;
    private readonly bool _grey;
    private readonly BoundModel _run;

    /// <summary>How much larger than the box the crop is, and whether it is made square first.</summary>
    public float CropScale { get; set; }
    public bool Square { get; set; }

    public Landmarker(ModelSession model)
    {
        _model = model;
        var shape = model.InputShape; // fr_landmark [1,1,64,64]; PFLD [N,3,112,112]
        if (shape.Length != 4 || shape[2] != shape[3]) throw new ModelException($"{model.ModelId}: expected a square [N,C,S,S] input, got [{string.Join(",", shape)}]");
        _grey = shape[1] == 1;
        _size = shape[3];
        _run = new BoundModel(model, [1, shape[1], _size, _size]);
        // fr_landmark: the box as the package crops it; PFLD: a square crop a little larger than the box, as FaceONNX feeds it.
        // The refinement pass (FaceOptions.RefineScale) re-crops around the first points, which is what docs/face.md measured.
        (CropScale, Square) = _grey ? (1.0f, false) : (1.1f, true);
    }

    public string ModelId => _model.ModelId;

    public Vector2[] Detect(RgbImage image, in BoxF box)
    {
        var points = new Vector2[68];
        Detect(image, box, points);
        return points;
    }

    /// <summary>The 68 points into <paramref name="points"/> (the pipeline reuses its buffers frame to frame).</summary>
    public void Detect(RgbImage image, in BoxF box, Span<Vector2> points)
    {
        var crop = box.Scale(CropScale, Square);
        var map = Affine2.BoxToGrid(crop, _size, _size);
        if (_grey) ImageSampler.WarpGrey(image, map, _size, _size, _run.Input, 1f / 256, 0); // fr_landmark: grey / 256
        else ImageSampler.WarpChw(image, map, _size, _size, _run.Input, 1f / 255, 0);      // PFLD: RGB / 255
        _run.Run();
        var o = _run.Output();
        if (o.Length < 136) throw new ModelException($"{_model.ModelId}: expected 136 outputs, got {o.Length}");
        for (var i = 0; i < 68; i++) points[i] = new Vector2(crop.X1 + o[2 * i] * crop.Width, crop.Y1 + o[2 * i + 1] * crop.Height);
    }

    /// <summary>The 5 alignment points from 68: eye centres, nose tip, mouth corners (outer and inner averaged, as the ArcFace template expects).</summary>
    public static Vector2[] FivePoints(ReadOnlySpan<Vector2> p68)
    {
        static Vector2 Mean(ReadOnlySpan<Vector2> p, int from, int to)
        {
            var s = Vector2.Zero;
            for (var i = from; i <= to; i++) s += p[i];
            return s / (to - from + 1);
        }
        return
        [
            Mean(p68, 36, 41),            // subject's right eye = image left
            Mean(p68, 42, 47),
            p68[30],
            (p68[48] + p68[60]) / 2,
            (p68[54] + p68[64]) / 2,
        ];
    }

    public void Dispose()
    {
        _run.Dispose();
        _model.Dispose();
    }
}
