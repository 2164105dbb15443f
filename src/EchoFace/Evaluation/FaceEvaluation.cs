using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Evaluation;

public sealed record EvaluatedImage(string Path, string Identity, float[]? Embedding, StageTimings Timings, string? Failure);

public sealed class FaceEvaluationResult
{
    public required IReadOnlyList<EvaluatedImage> Images { get; init; }
    public required VerificationMetrics Metrics { get; init; }
    public int Identities { get; init; }
    public IEnumerable<EvaluatedImage> Failures => Images.Where(i => i.Embedding is null);
}

/// <summary>All genuine/impostor pairs over a folder of identity folders: one embedding per image (its largest face).</summary>
public static class FaceEvaluation
{
    public static List<(string Path, string Identity)> ListImages(string root)
    {
        if (!Directory.Exists(root)) throw new BadInputException($"evaluation folder not found: {root}");
        var items = Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(dir => Directory.GetFiles(dir).Where(IsImage).OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => (f, Path.GetFileName(dir))))
            .ToList();
        if (items.Select(i => i.Item2).Distinct().Count() < 2)
            throw new BadInputException($"{root} must hold one folder per identity with images in them (found {items.Count} images)");
        return items;
    }

    public static bool IsImage(string path) => ImageDecoder.IsImage(path);

    public static FaceEvaluationResult Run(FacePipeline pipeline, string root, IProgress<EvaluatedImage>? progress = null, ImageLimits? limits = null, float padAll = 0)
    {
        var images = new List<EvaluatedImage>();
        foreach (var (path, identity) in ListImages(root))
        {
            EvaluatedImage item;
            try
            {
                var image = ImageDecoder.DecodeFile(path, limits);
                // evaluation of tight crops (Yale B): give every image the context a detector expects, as the reference measurements did
                if (padAll > 0) image = image.Pad((int)MathF.Round(padAll * Math.Max(image.Width, image.Height)));
                var faces = pipeline.Analyze(image, FaceSteps.All, out var timings);
                item = faces.Count == 0
                    ? new EvaluatedImage(path, identity, null, timings, "no face detected")
                    : new EvaluatedImage(path, identity, faces[0].Embedding, timings, null);
            }
            catch (BadInputException e)
            {
                item = new EvaluatedImage(path, identity, null, default, e.Message);
            }
            images.Add(item);
            progress?.Report(item);
        }
        return new FaceEvaluationResult { Images = images, Metrics = Score(images), Identities = images.Select(i => i.Identity).Distinct().Count() };
    }

    /// <summary>Cosine similarity of every pair of embedded images, split by whether they share an identity.</summary>
    public static VerificationMetrics Score(IReadOnlyList<EvaluatedImage> images)
    {
        var ok = images.Where(i => i.Embedding is not null).ToList();
        var genuine = new List<double>();
        var impostor = new List<double>();
        for (var i = 0; i < ok.Count; i++)
            for (var j = i + 1; j < ok.Count; j++)
            {
                double s = TensorPrimitives.Dot(ok[i].Embedding, ok[j].Embedding);
                (ok[i].Identity == ok[j].Identity ? genuine : impostor).Add(s);
            }
        return VerificationMetrics.Compute(genuine, impostor);
    }
}
