using System.Numerics;
using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Face;

/// <summary>
/// Aligns a face onto the model's crop (its manifest entry's faceCrop; fr_feature's is 112x112 on the ArcFace template) and
/// embeds it, L2-normalised here.
/// </summary>
public sealed class FaceEmbedder : IDisposable
{
    /// <summary>The ArcFace crop's size: the crop quality is measured on and pictures show, whatever the embedder.</summary>
    public const int CropSize = 112;

    /// <summary>The standard 5-point ArcFace template for 112x112 crops.</summary>
    public static readonly Vector2[] Template =
    [
        new(38.2946f, 51.6963f), new(73.5318f, 51.5014f), new(56.0252f, 71.7366f), new(41.5493f, 92.3655f), new(70.7299f, 92.2041f),
    ];

    private readonly ModelSession _model;
    private readonly BoundModel _run;
    private readonly FaceCropSpec _crop;
    private readonly Vector2[] _template;

    public FaceEmbedder(ModelSession model)
    {
        _model = model;
        _crop = model.FaceCrop ?? FaceCropSpec.ArcFace;
        if (_crop.Mean is { Length: not 3 } || _crop.Std is { Length: not 3 } || (_crop.Mean is null) != (_crop.Std is null)
            || _crop.Std?.Any(v => v <= 0) == true)
            throw new ModelException($"model '{model.ModelId}': faceCrop mean and std must both be 3 values (std above 0), or both absent");
        _template = TemplateFor(_crop);
        _run = new BoundModel(model, [1, 3, _crop.Size, _crop.Size]);
        Dimension = _run.Output().Length;
    }

    /// <summary>The model templates are kept under (a quantized variant measured to share them reports its float model).</summary>
    public string ModelId => _model.TemplateModelId;
    /// <summary>The manifest entry actually running.</summary>
    public string LoadedModelId => _model.ModelId;
    public string Provider => _model.Provider;
    public int Dimension { get; }
    /// <summary>The side of the model's square input.</summary>
    public int InputSize => _crop.Size;
    public long[] InputShape => [1, 3, _crop.Size, _crop.Size];
    /// <summary>Where the 5 points sit in this model's crop: embedding a ready crop is Embed(crop, CropTemplate).</summary>
    public ReadOnlySpan<Vector2> CropTemplate => _template;

    /// <summary>The ArcFace template moved onto a crop of another size and framing.</summary>
    public static Vector2[] TemplateFor(FaceCropSpec crop)
    {
        var ratio = crop.Size / (float)CropSize;
        var centre = new Vector2(crop.Size / 2f);
        var shift = new Vector2(0, crop.TemplateShiftY * crop.Size);
        return [.. Template.Select(p => centre + (p * ratio - centre) * crop.TemplateScale + shift)];
    }

    /// <summary>The map from the 112x112 aligned grid back to the image, given the 5 points.</summary>
    public static Affine2 AlignmentFor(ReadOnlySpan<Vector2> fivePoints) => Affine2.Similarity(Template, fivePoints);

    /// <summary>The aligned crop as an image (for annotations and the sharpness measure).</summary>
    public static RgbImage AlignedCrop(RgbImage image, ReadOnlySpan<Vector2> fivePoints) =>
        AlignedCrop(image, fivePoints, new RgbImage(CropSize, CropSize));

    /// <summary>The aligned crop drawn into <paramref name="into"/> (CropSize x CropSize), which is returned.</summary>
    public static RgbImage AlignedCrop(RgbImage image, ReadOnlySpan<Vector2> fivePoints, RgbImage into) =>
        ImageSampler.WarpImage(image, AlignmentFor(fivePoints), into);

    /// <summary>This model's crop as an image (what its input holds before the pixel scaling), for checks against other runtimes.</summary>
    public RgbImage ModelCrop(RgbImage image, ReadOnlySpan<Vector2> fivePoints) =>
        ImageSampler.WarpImage(image, Affine2.Similarity(_template, fivePoints), _crop.Size, _crop.Size);

    /// <summary>Fills the model's [1, 3, Size, Size] input with the aligned face.</summary>
    public void Prepare(RgbImage image, ReadOnlySpan<Vector2> fivePoints, Span<float> chw)
    {
        ImageSampler.WarpChw(image, Affine2.Similarity(_template, fivePoints), _crop.Size, _crop.Size, chw, _crop.PixelScale, _crop.PixelOffset,
            _crop.Bgr ? ChannelOrder.Bgr : ChannelOrder.Rgb);
        if (_crop.Mean is not { Length: 3 } mean || _crop.Std is not { Length: 3 } std) return;
        var plane = _crop.Size * _crop.Size;
        for (var c = 0; c < 3; c++)
        {
            var channel = chw.Slice(c * plane, plane);
            System.Numerics.Tensors.TensorPrimitives.Subtract(channel, mean[c], channel);
            System.Numerics.Tensors.TensorPrimitives.Multiply(channel, 1 / std[c], channel);
        }
    }

    public float[] Embed(RgbImage image, ReadOnlySpan<Vector2> fivePoints)
    {
        var embedding = new float[Dimension];
        Embed(image, fivePoints, embedding);
        return embedding;
    }

    /// <summary>Test-time flip: the embedding of the aligned face plus that of its mirror image (twice the cost; docs/fusion.md).</summary>
    public bool FlipTest { get; init; }

    /// <summary>The L2-normalised embedding into <paramref name="embedding"/> (Dimension floats).</summary>
    public void Embed(RgbImage image, ReadOnlySpan<Vector2> fivePoints, Span<float> embedding)
    {
        Prepare(image, fivePoints, _run.Input);
        _run.Run();
        _run.Output().CopyTo(embedding);
        if (FlipTest)
        {
            Mirror(_run.Input, _crop.Size);
            _run.Run();
            System.Numerics.Tensors.TensorPrimitives.Add(embedding, _run.Output(), embedding);
        }
        Embeddings.Normalize(embedding);
    }

    /// <summary>Flips each row of a [3, size, size] tensor in place.</summary>
    private static void Mirror(Span<float> chw, int size)
    {
        for (var row = 0; row < 3 * size; row++) chw.Slice(row * size, size).Reverse();
    }

    public void Dispose()
    {
        _run.Dispose();
        _model.Dispose();
    }
}
