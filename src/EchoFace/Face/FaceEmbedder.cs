using System.Numerics;
using EchoFace.Inference;
using EchoFace.Media;
using Microsoft.ML.OnnxRuntime;

namespace EchoFace.Face;

/// <summary>Aligns a face onto the 112x112 ArcFace template and embeds it (fr_feature, 512-d, L2-normalised here).</summary>
public sealed class FaceEmbedder : IDisposable
{
    public const int Size = 112;

    /// <summary>The standard 5-point ArcFace template for 112x112 crops.</summary>
    public static readonly Vector2[] Template =
    [
        new(38.2946f, 51.6963f), new(73.5318f, 51.5014f), new(56.0252f, 71.7366f), new(41.5493f, 92.3655f), new(70.7299f, 92.2041f),
    ];

    private readonly ModelSession _model;
    private readonly BoundModel _run;

    public FaceEmbedder(ModelSession model)
    {
        _model = model;
        _run = new BoundModel(model, [1, 3, Size, Size]);
        Dimension = _run.Output().Length;
    }

    /// <summary>The model templates are kept under (a quantized variant measured to share them reports its float model).</summary>
    public string ModelId => _model.TemplateModelId;
    /// <summary>The manifest entry actually running.</summary>
    public string LoadedModelId => _model.ModelId;
    public string Provider => _model.Provider;
    public int Dimension { get; }

    /// <summary>The map from the 112x112 aligned grid back to the image, given the 5 points.</summary>
    public static Affine2 AlignmentFor(ReadOnlySpan<Vector2> fivePoints) => Affine2.Similarity(Template, fivePoints);

    /// <summary>The aligned crop as an image (for annotations and the sharpness measure).</summary>
    public static RgbImage AlignedCrop(RgbImage image, ReadOnlySpan<Vector2> fivePoints) =>
        AlignedCrop(image, fivePoints, new RgbImage(Size, Size));

    /// <summary>The aligned crop drawn into <paramref name="into"/> (Size x Size), which is returned.</summary>
    public static RgbImage AlignedCrop(RgbImage image, ReadOnlySpan<Vector2> fivePoints, RgbImage into) =>
        ImageSampler.WarpImage(image, AlignmentFor(fivePoints), into);

    /// <summary>Fills the model's [1, 3, 112, 112] input with the aligned face.</summary>
    public static void Prepare(RgbImage image, ReadOnlySpan<Vector2> fivePoints, Span<float> chw) =>
        ImageSampler.WarpChw(image, AlignmentFor(fivePoints), Size, Size, chw, 1f / 128, -127f / 128);

    public float[] Embed(RgbImage image, ReadOnlySpan<Vector2> fivePoints)
    {
        var embedding = new float[Dimension];
        Embed(image, fivePoints, embedding);
        return embedding;
    }

    /// <summary>The L2-normalised embedding into <paramref name="embedding"/> (Dimension floats).</summary>
    public void Embed(RgbImage image, ReadOnlySpan<Vector2> fivePoints, Span<float> embedding)
    {
        Prepare(image, fivePoints, _run.Input);
        _run.Run();
        _run.Output().CopyTo(embedding);
        Embeddings.Normalize(embedding);
    }

    public void Dispose()
    {
        _run.Dispose();
        _model.Dispose();
    }
}
