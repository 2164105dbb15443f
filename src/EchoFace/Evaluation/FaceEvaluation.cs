using System.Numerics.Tensors;
using EchoFace.Face;
using EchoFace.Media;

namespace EchoFace.Evaluation;

public sealed record EvaluatedImage(string Path, string Identity, float[]? Embedding, StageTimings Timings, string? Failure)
{
    /// <summary>With further embedders: the face embedded by each, the pipeline's own first; and milliseconds per model.</summary>
    public IReadOnlyList<float[]> Embeddings { get; init; } = Embedding is null ? [] : [Embedding];
    public IReadOnlyList<double> EmbedMs { get; init; } = [Timings.Embed];
    /// <summary>
    /// With the reference alignment: its points' distance from the pipeline's (per reference box height), null where it found none.
    /// </summary>
    public float? AlignmentError { get; init; }
}

public sealed class FaceEvaluationResult
{
    public required IReadOnlyList<EvaluatedImage> Images { get; init; }
    /// <summary>Over every pair of the embedded images; null where there are not two identities embedded to pair.</summary>
    public VerificationMetrics? Metrics { get; init; }
    public int Identities { get; init; }
    public IEnumerable<EvaluatedImage> Failures => Images.Where(i => i.Embedding is null);
}

/// <summary>All genuine/impostor pairs over a folder of identity folders: one embedding per image (its main face: the largest in focus).</summary>
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

    /// <param name="also">Further embedders run on the same faces (score fusion): points are in the image's coordinates, and pixels
    /// outside it read black, as the pipeline's own padding does, so each model sees the face the pipeline's embedder saw.</param>
    public static FaceEvaluationResult Run(FacePipeline pipeline, string root, IProgress<EvaluatedImage>? progress = null, ImageLimits? limits = null,
        float padAll = 0, IReadOnlyList<FaceEmbedder>? also = null) =>
        Run(pipeline, ListImages(root), progress, limits, padAll, also);

    /// <summary>The same over the given images (a pair list's): a file that cannot be read is a failure of that image, not of the run.</summary>
    /// <param name="reference">Embed every face aligned by the reference's 5 points where it finds the face (evaluation only).</param>
    public static FaceEvaluationResult Run(FacePipeline pipeline, IReadOnlyList<(string Path, string Identity)> items,
        IProgress<EvaluatedImage>? progress, ImageLimits? limits, float padAll, IReadOnlyList<FaceEmbedder>? also,
        ReferenceAlignment? reference = null)
    {
        var images = new List<EvaluatedImage>();
        foreach (var (path, identity) in items)
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
                if (faces.Count > 0 && reference?.Find(image, faces[0].Box) is { } r)
                {
                    var error = ReferenceAlignment.Error(faces[0].Points5, r.Points, r.Box);
                    faces[0] = faces[0] with { Points5 = r.Points, Embedding = pipeline.Embedder.Embed(image, r.Points) };
                    item = item with { Embedding = faces[0].Embedding, Embeddings = [faces[0].Embedding!], AlignmentError = error };
                }
                if (faces.Count > 0 && also is { Count: > 0 }) item = WithOthers(item, image, faces[0], also);
            }
            catch (Exception e) when (e is BadInputException or IOException or UnauthorizedAccessException)
            {
                item = new EvaluatedImage(path, identity, null, default, e.Message);
            }
            images.Add(item);
            progress?.Report(item);
        }
        var identities = images.Select(i => i.Identity).Distinct().Count();
        // a pair list scores its own pairs; every pair of its images is scored only where there are two identities to pair
        var metrics = images.Count(i => i.Embedding is not null) >= 2 && identities >= 2 ? Score(images) : null;
        return new FaceEvaluationResult { Images = images, Metrics = metrics, Identities = identities };
    }

    private static EvaluatedImage WithOthers(EvaluatedImage item, RgbImage image, FaceResult face, IReadOnlyList<FaceEmbedder> also)
    {
        var embeddings = new List<float[]> { face.Embedding! };
        var ms = new List<double> { item.Timings.Embed };
        foreach (var embedder in also)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            embeddings.Add(embedder.Embed(image, face.Points5));
            ms.Add(clock.Elapsed.TotalMilliseconds);
        }
        return item with { Embeddings = embeddings, EmbedMs = ms };
    }

    /// <summary>Cosine similarity of every pair of embedded images, split by whether they share an identity.</summary>
    public static VerificationMetrics Score(IReadOnlyList<EvaluatedImage> images)
    {
        var (genuine, impostor) = Pairs(images, (a, b) => TensorPrimitives.Dot(a.Embedding, b.Embedding));
        return VerificationMetrics.Compute(genuine, impostor);
    }

    /// <summary>A score of every pair of embedded images, split into genuine and impostor.</summary>
    public static (List<double> Genuine, List<double> Impostor) Pairs(IReadOnlyList<EvaluatedImage> images, Func<EvaluatedImage, EvaluatedImage, double> score)
    {
        var ok = images.Where(i => i.Embedding is not null).ToList();
        var genuine = new List<double>();
        var impostor = new List<double>();
        for (var i = 0; i < ok.Count; i++)
            for (var j = i + 1; j < ok.Count; j++)
                (ok[i].Identity == ok[j].Identity ? genuine : impostor).Add(score(ok[i], ok[j]));
        return (genuine, impostor);
    }
}
